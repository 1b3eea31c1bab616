-- Continuous aggregates v2 and policies that never erase an aggregate (docs/warehouse.md).
--
-- The aggregates are recreated because their definition changes (a cagg's query cannot be altered):
--   * overflow-safe sums (0007): the old sum(value_avg * sample_count) failed every refresh, for
--     every series, once one bucket's sum passed float8's range;
--   * numeric_count: sums and averages count the numeric samples only (mixed-type facts);
--   * first_value, first_ts, counter_rise: what a counter's reset-aware `increase` is built from;
--   * last_value (like first_value) is the latest NUMERIC value: a fact that mixes numbers and
--     strings keeps its last number there and its last text in last_str.
-- Every materialized row is kept: the old rows are copied into the new aggregates (new columns
-- NULL, numeric_count = sample_count where the row had a numeric value) and the old watermark is
-- carried over, so queries see the same history at once. The refresh policies then recompute,
-- from raw rows, every bucket inside their windows (the raw retention) with the new definition.

-- Policies are brought in line with warehouse_retention, changing only what differs:
--   * a job whose config differs is altered in place (alter_job: same id, same schedule);
--   * with p_repair, a missing job is added and a paused one re-enabled; added jobs start 20 s
--     apart, so a handful of background workers never has to launch them all at once;
--   * a retention policy the setting no longer wants (kept forever) is removed.
-- Refresh windows start at warehouse_fold_from() of their input (never over dropped rows) and
-- widen as time passes after a retention was raised; maintenance calls this every run (without
-- p_repair) to let them widen. Returns one row per job that is not as it should be, or changed.
DROP FUNCTION warehouse_apply_policies();

-- How far back a refresh reading `p_input` may start, in whole minutes (so a policy only changes
-- when its window really moves); NULL when the input is kept forever and nothing was dropped.
CREATE FUNCTION warehouse_policy_window(p_input text, p_now timestamptz) RETURNS interval
LANGUAGE sql STABLE
RETURN (SELECT CASE WHEN f = '-infinity' THEN NULL
                    ELSE justify_hours(make_interval(mins => floor(extract(epoch FROM p_now - f) / 60)::integer)) END
        FROM warehouse_fold_from(p_input, p_now) AS f);

CREATE FUNCTION warehouse_apply_policies(p_repair boolean DEFAULT true, p_now timestamptz DEFAULT now())
RETURNS TABLE (job_id integer, policy text, target text, action text, detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  stagger CONSTANT interval := INTERVAL '20 seconds';
  added integer := 0;
  raw_keep interval;
  raw_window interval;
  min1_window interval;
  want record;
  have record;
  cfg jsonb;
BEGIN
  PERFORM warehouse_check_retention();
  SELECT make_interval(days => keep_days) INTO raw_keep FROM warehouse_retention WHERE grain = 'raw';
  raw_window := warehouse_policy_window('raw', p_now);
  min1_window := warehouse_policy_window('1min', p_now); -- least() ignores it when NULL

  FOR want IN
    SELECT * FROM (VALUES
      -- kind, target, proc, schedule, config (the keys compared)
      ('columnstore', 'telemetry_events', 'policy_compression', NULL::interval,
        jsonb_build_object('compress_after', INTERVAL '1 day')),
      ('retention', 'telemetry_events', 'policy_retention', NULL::interval, jsonb_build_object('drop_after', raw_keep)),
      ('refresh', 'telemetry_1min', 'policy_refresh_continuous_aggregate', INTERVAL '1 minute',
        jsonb_build_object('start_offset', raw_window, 'end_offset', INTERVAL '1 minute', 'buckets_per_batch', 360)),
      -- 1h and 1day re-aggregate where 1min changed (the 1min window plus the bucket holding its
      -- start), inside 1min's own fold window; a refresh spans at least two buckets
      ('refresh', 'telemetry_1h', 'policy_refresh_continuous_aggregate', INTERVAL '10 minutes',
        jsonb_build_object('start_offset', least(raw_window + INTERVAL '1 hour', min1_window), 'end_offset', INTERVAL '1 hour', 'buckets_per_batch', 24)),
      ('refresh', 'telemetry_1day', 'policy_refresh_continuous_aggregate', INTERVAL '1 hour',
        jsonb_build_object('start_offset', least(greatest(raw_window + INTERVAL '1 day', INTERVAL '2 days 1 hour 1 minute'), min1_window),
                           'end_offset', INTERVAL '1 hour', 'buckets_per_batch', 7))
    ) AS w (kind, target, proc, schedule, config)
    UNION ALL
    SELECT 'retention', 'telemetry_' || r.grain, 'policy_retention', NULL::interval,
           CASE WHEN r.keep_days IS NULL THEN NULL ELSE jsonb_build_object('drop_after', make_interval(days => r.keep_days)) END
    FROM warehouse_retention r WHERE r.grain <> 'raw'
  LOOP
    SELECT j.job_id, j.config, j.scheduled INTO have
    FROM timescaledb_information.jobs j
    WHERE j.proc_name = want.proc AND j.hypertable_name = want.target
    ORDER BY j.job_id LIMIT 1;

    IF want.config IS NULL THEN -- kept forever: no retention policy
      IF have.job_id IS NOT NULL THEN
        PERFORM remove_retention_policy(want.target::regclass);
        RETURN QUERY SELECT have.job_id, want.kind, want.target, 'removed'::text, 'the setting keeps it forever'::text;
      END IF;
      CONTINUE;
    END IF;

    IF have.job_id IS NULL THEN
      IF NOT p_repair THEN
        RETURN QUERY SELECT NULL::integer, want.kind, want.target, 'missing'::text, 'run npm run maintenance -- --repair'::text;
        CONTINUE;
      END IF;
      added := added + 1;
      IF want.kind = 'columnstore' THEN
        CALL add_columnstore_policy(want.target::regclass, after => (want.config->>'compress_after')::interval,
          initial_start => p_now + added * stagger);
      ELSIF want.kind = 'retention' THEN
        PERFORM add_retention_policy(want.target::regclass, drop_after => (want.config->>'drop_after')::interval,
          initial_start => p_now + added * stagger);
      ELSE
        PERFORM add_continuous_aggregate_policy(want.target::regclass,
          start_offset => (want.config->>'start_offset')::interval, end_offset => (want.config->>'end_offset')::interval,
          schedule_interval => want.schedule, buckets_per_batch => (want.config->>'buckets_per_batch')::integer,
          initial_start => p_now + added * stagger);
      END IF;
      RETURN QUERY SELECT j.job_id, want.kind, want.target, 'added'::text, format('first run at %s', j.next_start)
        FROM timescaledb_information.jobs j WHERE j.proc_name = want.proc AND j.hypertable_name = want.target;
      CONTINUE;
    END IF;

    -- the keys that differ (intervals compared as intervals: '1 day' = '24:00:00')
    SELECT coalesce(jsonb_object_agg(k.key, k.value), '{}'::jsonb) INTO cfg
    FROM jsonb_each(want.config) k
    WHERE CASE WHEN jsonb_typeof(k.value) = 'number' THEN (have.config->k.key) IS DISTINCT FROM k.value
               ELSE (have.config->>k.key)::interval IS DISTINCT FROM (k.value #>> '{}')::interval END;
    IF cfg <> '{}'::jsonb THEN
      PERFORM alter_job(have.job_id, config => have.config || cfg);
      RETURN QUERY SELECT have.job_id, want.kind, want.target, 'changed'::text, cfg::text;
    END IF;
    IF NOT have.scheduled THEN
      IF p_repair THEN
        PERFORM alter_job(have.job_id, scheduled => true, next_start => p_now + (added + 1) * stagger);
        added := added + 1;
        RETURN QUERY SELECT have.job_id, want.kind, want.target, 'enabled'::text, 'was paused (scheduled => false)'::text;
      ELSE
        RETURN QUERY SELECT have.job_id, want.kind, want.target, 'paused'::text, 'run npm run maintenance -- --repair'::text;
      END IF;
    END IF;
  END LOOP;
END $$;

-- On TimescaleDB the 1min refresh policy's window is what folds raw rows in: stay inside it too.
CREATE OR REPLACE FUNCTION warehouse_ingest_horizon(p_now timestamptz DEFAULT now()) RETURNS timestamptz
LANGUAGE sql STABLE
RETURN greatest(warehouse_fold_from('raw', p_now),
                (SELECT p_now - (j.config->>'start_offset')::interval FROM timescaledb_information.jobs j
                 WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND j.hypertable_name = 'telemetry_1min'
                 ORDER BY j.job_id LIMIT 1)) + INTERVAL '10 minutes';

-- The new aggregates, beside the old ones until their rows are copied. Per raw row, the numeric
-- samples n are numeric_count, or on rows written before it existed sample_count when the row has
-- a numeric value (else 0); a = the row's average (value_avg, else its value).
CREATE MATERIALIZED VIEW telemetry_1min_v2
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket,
       source,
       fact_name,
       sum(sample_count)::bigint AS sample_count,
       warehouse_sum(
         sum(coalesce(value_avg, value_float) * coalesce(numeric_count, CASE WHEN coalesce(value_avg, value_float) IS NOT NULL THEN sample_count ELSE 0 END))
           FILTER (WHERE abs(coalesce(value_avg, value_float)) < 1e280),
         sum(coalesce(value_avg, value_float)::text::numeric * coalesce(numeric_count, sample_count))
           FILTER (WHERE abs(coalesce(value_avg, value_float)) >= 1e280)) AS value_sum,
       warehouse_avg(
         sum(coalesce(value_avg, value_float) * coalesce(numeric_count, CASE WHEN coalesce(value_avg, value_float) IS NOT NULL THEN sample_count ELSE 0 END))
           FILTER (WHERE abs(coalesce(value_avg, value_float)) < 1e280),
         sum(coalesce(value_avg, value_float)::text::numeric * coalesce(numeric_count, sample_count))
           FILTER (WHERE abs(coalesce(value_avg, value_float)) >= 1e280),
         sum(coalesce(numeric_count, CASE WHEN coalesce(value_avg, value_float) IS NOT NULL THEN sample_count ELSE 0 END))) AS value_avg,
       min(coalesce(value_min, value_float)) AS value_min,
       max(coalesce(value_max, value_float)) AS value_max,
       last(value_float, ts) FILTER (WHERE value_float IS NOT NULL) AS last_value,
       last(value_str, ts) AS last_str,
       max(ts) AS last_ts,
       sum(coalesce(numeric_count, CASE WHEN coalesce(value_avg, value_float) IS NOT NULL THEN sample_count ELSE 0 END))::bigint AS numeric_count,
       first(value_float, ts) FILTER (WHERE value_float IS NOT NULL) AS first_value,
       min(ts) AS first_ts,
       warehouse_counter_rise(NULL::float8, value_float, ts, value_float, ts ORDER BY ts) AS counter_rise
FROM telemetry_events
GROUP BY 1, 2, 3
WITH NO DATA;

-- 1h and 1day from 1min. Sums: a minute's value_sum while it is an ordinary number, else (beyond
-- 1e300, or +/-Infinity) its finite value_avg x numeric_count in numeric: the hour stays exact.
DO $$
DECLARE
  g record;
BEGIN
  FOR g IN SELECT * FROM (VALUES ('telemetry_1h_v2', INTERVAL '1 hour'), ('telemetry_1day_v2', INTERVAL '1 day')) AS v (name, width) LOOP
    EXECUTE format($cagg$
      CREATE MATERIALIZED VIEW %1$I
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket(%2$L::interval, bucket) AS bucket,
             source,
             fact_name,
             sum(sample_count)::bigint AS sample_count,
             warehouse_sum(sum(value_sum) FILTER (WHERE abs(value_sum) < 1e300),
                           sum(value_avg::text::numeric * numeric_count) FILTER (WHERE NOT abs(value_sum) < 1e300)) AS value_sum,
             warehouse_avg(sum(value_sum) FILTER (WHERE abs(value_sum) < 1e300),
                           sum(value_avg::text::numeric * numeric_count) FILTER (WHERE NOT abs(value_sum) < 1e300),
                           sum(numeric_count)) AS value_avg,
             min(value_min) AS value_min,
             max(value_max) AS value_max,
             last(last_value, last_ts) FILTER (WHERE last_value IS NOT NULL) AS last_value,
             last(last_str, last_ts) AS last_str,
             max(last_ts) AS last_ts,
             sum(numeric_count)::bigint AS numeric_count,
             first(first_value, first_ts) FILTER (WHERE first_value IS NOT NULL) AS first_value,
             min(first_ts) AS first_ts,
             warehouse_counter_rise(counter_rise, first_value, first_ts, last_value, last_ts ORDER BY bucket) AS counter_rise
      FROM telemetry_1min_v2
      GROUP BY 1, 2, 3
      WITH NO DATA
    $cagg$, g.name, g.width);
  END LOOP;
END $$;

-- Copy every materialized row of each old aggregate into its new one and carry its watermark over.
DO $$
DECLARE
  pair record;
  old_mat record;
  new_mat record;
BEGIN
  FOR pair IN SELECT * FROM (VALUES ('telemetry_1min', 'telemetry_1min_v2'), ('telemetry_1h', 'telemetry_1h_v2'),
                                    ('telemetry_1day', 'telemetry_1day_v2')) AS p (old_view, new_view) LOOP
    SELECT c.mat_hypertable_id AS id, h.schema_name, h.table_name INTO old_mat
    FROM _timescaledb_catalog.continuous_agg c JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    WHERE c.user_view_name = pair.old_view;
    SELECT c.mat_hypertable_id AS id, h.schema_name, h.table_name INTO new_mat
    FROM _timescaledb_catalog.continuous_agg c JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    WHERE c.user_view_name = pair.new_view;
    EXECUTE format(
      'INSERT INTO %I.%I (bucket, source, fact_name, sample_count, value_sum, value_avg, value_min, value_max,
                          last_value, last_str, last_ts, numeric_count)
       SELECT bucket, source, fact_name, sample_count, value_sum, value_avg, value_min, value_max,
              last_value, last_str, last_ts, CASE WHEN value_avg IS NOT NULL THEN sample_count ELSE 0 END
       FROM %I.%I', new_mat.schema_name, new_mat.table_name, old_mat.schema_name, old_mat.table_name);
    UPDATE _timescaledb_catalog.continuous_aggs_watermark w
    SET watermark = (SELECT o.watermark FROM _timescaledb_catalog.continuous_aggs_watermark o WHERE o.mat_hypertable_id = old_mat.id)
    WHERE w.mat_hypertable_id = new_mat.id;
  END LOOP;
END $$;

-- The fact views read the aggregates; 0010 recreates them with their new columns.
DROP VIEW fact_telemetry_1min, fact_telemetry_1h, fact_telemetry_1day;
DROP MATERIALIZED VIEW telemetry_1day;
DROP MATERIALIZED VIEW telemetry_1h;
DROP MATERIALIZED VIEW telemetry_1min;
ALTER MATERIALIZED VIEW telemetry_1min_v2 RENAME TO telemetry_1min;
ALTER MATERIALIZED VIEW telemetry_1h_v2 RENAME TO telemetry_1h;
ALTER MATERIALIZED VIEW telemetry_1day_v2 RENAME TO telemetry_1day;

-- Policies for the new aggregates (the old ones went with them), staggered.
SELECT * FROM warehouse_apply_policies(true);
