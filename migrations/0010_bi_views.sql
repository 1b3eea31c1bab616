-- BI views v2, the same on both engines. fact_telemetry_<grain>: the grain joined to both
-- dimensions (LEFT JOIN: an unknown unit or fact still shows), with every aggregate column and,
-- for counter facts (dim_variable.value_kind = 'counter'), `increase`: the reset-aware rise over
-- the bucket, i.e. the rises inside it (counter_rise) plus the rise from the series' last reading
-- before the bucket (warehouse_counter_rise's own step over the two, so the 1-hour look-back and
-- the reset rule are the ones of 0007). That last term needs the previous bucket, which a
-- continuous aggregate cannot read, so the view looks it up (one index probe per counter row).
-- NULL for other facts and for buckets written before first_ts existed.
-- fact_oee: oee_snapshots with the equipment's names.
DROP VIEW IF EXISTS fact_telemetry_1min, fact_telemetry_1h, fact_telemetry_1day;

-- The previous bucket of the series within the look-back: any of the last hour's minutes, the
-- previous hour, the previous day.
DO $$
DECLARE
  g record;
BEGIN
  FOR g IN SELECT * FROM (VALUES ('1min', INTERVAL '1 minute'), ('1h', INTERVAL '1 hour'), ('1day', INTERVAL '1 day')) AS v (grain, width) LOOP
    EXECUTE format($view$
      CREATE VIEW %1$I AS
      SELECT t.bucket, t.source, e.equipment_name, e.equipment_kind, t.fact_name, v.description AS variable_description,
             v.unit, v.value_kind, t.sample_count, t.value_avg, t.value_min, t.value_max, t.last_value, t.last_str,
             t.numeric_count, t.value_sum, t.first_value, t.first_ts, t.last_ts,
             CASE WHEN v.value_kind = 'counter' AND t.first_ts IS NOT NULL THEN
               warehouse_counter_final(warehouse_counter_step(
                 warehouse_counter_step(NULL::float8[], NULL, p.last_value, p.last_ts, p.last_value, p.last_ts),
                 t.counter_rise, t.first_value, t.first_ts, t.last_value, t.last_ts))
             END AS increase
      FROM %2$I t
      LEFT JOIN dim_equipment e ON e.source = t.source
      LEFT JOIN dim_variable v ON v.fact_name = t.fact_name
      LEFT JOIN LATERAL (
        SELECT q.last_value, q.last_ts FROM %2$I q
        WHERE v.value_kind = 'counter' AND q.source = t.source AND q.fact_name = t.fact_name
          AND q.bucket < t.bucket AND q.bucket >= t.bucket - greatest(%3$L::interval, INTERVAL '1 hour')
        ORDER BY q.bucket DESC LIMIT 1) p ON true
    $view$, 'fact_telemetry_' || g.grain, 'telemetry_' || g.grain, g.width);
  END LOOP;
END $$;

CREATE VIEW fact_oee AS
SELECT o.ts, o.source, e.equipment_name, e.equipment_kind, o.availability_pct, o.performance_pct, o.quality_pct,
       o.oee_pct, o.coverage_s, o.partial, o.null_reason, o.computed_at
FROM oee_snapshots o
LEFT JOIN dim_equipment e ON e.source = o.source;
