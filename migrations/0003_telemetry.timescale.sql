-- telemetry_events on TimescaleDB (Timescale Cloud, a Timescale container). Uses the columnstore
-- API (2.18+) and batched refresh policies (buckets_per_batch); tested on TimescaleDB 2.23.
-- Same columns and unique key as the plain-PostgreSQL table in 0003_telemetry.plain.sql; the
-- ingest writer relies on both.

-- One row per (source, fact, event time): the event time comes from the producer, never the
-- write time, and the unique key makes redelivered batches idempotent (ON CONFLICT DO NOTHING).
-- The key includes ts, as a hypertable and a range-partitioned table both require.
CREATE TABLE telemetry_events (
  ts           timestamptz      NOT NULL,
  source       text             NOT NULL,
  fact_name    text             NOT NULL,
  value_float  double precision,
  value_bool   boolean,
  value_str    text,
  -- count/min/max/avg of the numeric samples merged into this row, so a spike inside a batch survives
  sample_count integer          NOT NULL CHECK (sample_count >= 1),
  value_min    double precision,
  value_max    double precision,
  value_avg    double precision,
  event_id     text             NOT NULL,
  ingested_at  timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT telemetry_events_key UNIQUE (source, fact_name, ts)
);
-- The default ts index would duplicate this one.
SELECT create_hypertable('telemetry_events', by_range('ts', INTERVAL '1 day'), create_default_indexes => false);
CREATE INDEX telemetry_events_ts_idx ON telemetry_events (ts DESC);
-- Maintenance (OEE) finds recently written rows by ingested_at; it grows with time inside a chunk,
-- so a BRIN index is tiny and costs the writer almost nothing.
CREATE INDEX telemetry_events_ingested_idx ON telemetry_events USING brin (ingested_at);

-- Columnstore after 1 day. Segmenting by series keeps each series' rows together (the unique key's
-- columns are all segment-by or order-by columns, so ON CONFLICT still works on compressed chunks).
-- The ingest mapping's max record age (hours) stays well inside this delay.
ALTER TABLE telemetry_events SET (
  timescaledb.enable_columnstore = true,
  timescaledb.segmentby = 'source, fact_name',
  timescaledb.orderby = 'ts DESC'
);
CALL add_columnstore_policy('telemetry_events', after => INTERVAL '1 day');

-- Continuous aggregates. Every grain has the same columns (the plain-PostgreSQL rollup tables too):
--   sample_count  samples merged into the rows (sum of sample_count), so merged batches count fully
--   value_sum     sum of the numeric samples (avg * count per row): lets coarser grains average exactly
--   value_avg/min/max over numeric samples, from the rows' per-batch avg/min/max, so spikes survive
--   last_value, last_str, last_ts   the latest value in the bucket (numeric/boolean, or state text)
-- Created WITH NO DATA so they can be created inside the migration's transaction; the refresh
-- policies fill them, and real-time aggregation (materialized_only = false) answers for the rest.
CREATE MATERIALIZED VIEW telemetry_1min
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket,
       source,
       fact_name,
       sum(sample_count)::bigint                                             AS sample_count,
       sum(coalesce(value_avg, value_float) * sample_count)                  AS value_sum,
       sum(coalesce(value_avg, value_float) * sample_count) / sum(sample_count) AS value_avg,
       min(coalesce(value_min, value_float))                                 AS value_min,
       max(coalesce(value_max, value_float))                                 AS value_max,
       last(value_float, ts)                                                 AS last_value,
       last(value_str, ts)                                                   AS last_str,
       max(ts)                                                               AS last_ts
FROM telemetry_events
GROUP BY 1, 2, 3
WITH NO DATA;

-- 1h and 1day are built on 1min (hierarchical), so their refresh reads 1min, which is kept far
-- longer than raw rows: a refresh can never meet dropped input and erase stored aggregates.
CREATE MATERIALIZED VIEW telemetry_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       source,
       fact_name,
       sum(sample_count)::bigint             AS sample_count,
       sum(value_sum)                        AS value_sum,
       sum(value_sum) / sum(sample_count)    AS value_avg,
       min(value_min)                        AS value_min,
       max(value_max)                        AS value_max,
       last(last_value, last_ts)             AS last_value,
       last(last_str, last_ts)               AS last_str,
       max(last_ts)                          AS last_ts
FROM telemetry_1min
GROUP BY 1, 2, 3
WITH NO DATA;

CREATE MATERIALIZED VIEW telemetry_1day
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket,
       source,
       fact_name,
       sum(sample_count)::bigint             AS sample_count,
       sum(value_sum)                        AS value_sum,
       sum(value_sum) / sum(sample_count)    AS value_avg,
       min(value_min)                        AS value_min,
       max(value_max)                        AS value_max,
       last(last_value, last_ts)             AS last_value,
       last(last_str, last_ts)               AS last_str,
       max(last_ts)                          AS last_ts
FROM telemetry_1min
GROUP BY 1, 2, 3
WITH NO DATA;

-- (Re)builds every retention and refresh policy from warehouse_retention. Refresh windows start
-- inside the retention of their input (the original system refreshed 30 days over 7-day raw
-- retention, which erases aggregates); each window still spans the two buckets TimescaleDB needs.
-- buckets_per_batch: the refresh runs in batches (one transaction each); one bucket per batch, the
-- default, made a 2-day 1-minute refresh ~15x slower (2,880 transactions) than 6-hour batches.
CREATE FUNCTION warehouse_apply_policies() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  raw_keep  interval;
  min1_keep interval;
  h1_days   integer;
  d1_days   integer;
BEGIN
  PERFORM warehouse_check_retention();
  SELECT make_interval(days => keep_days) INTO raw_keep FROM warehouse_retention WHERE grain = 'raw';
  SELECT make_interval(days => keep_days) INTO min1_keep FROM warehouse_retention WHERE grain = '1min';
  SELECT keep_days INTO h1_days FROM warehouse_retention WHERE grain = '1h';
  SELECT keep_days INTO d1_days FROM warehouse_retention WHERE grain = '1day';

  PERFORM remove_retention_policy('telemetry_events', if_exists => true);
  PERFORM add_retention_policy('telemetry_events', drop_after => raw_keep);

  PERFORM remove_continuous_aggregate_policy('telemetry_1min', if_exists => true);
  PERFORM add_continuous_aggregate_policy('telemetry_1min',
    start_offset => justify_hours(least(INTERVAL '2 days', raw_keep - INTERVAL '1 hour')),
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute',
    buckets_per_batch => 360);
  PERFORM remove_continuous_aggregate_policy('telemetry_1h', if_exists => true);
  PERFORM add_continuous_aggregate_policy('telemetry_1h',
    start_offset => justify_hours(least(INTERVAL '3 days', coalesce(min1_keep - INTERVAL '1 hour', INTERVAL '3 days'))),
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '10 minutes',
    buckets_per_batch => 24);
  PERFORM remove_continuous_aggregate_policy('telemetry_1day', if_exists => true);
  PERFORM add_continuous_aggregate_policy('telemetry_1day',
    start_offset => justify_hours(least(INTERVAL '7 days', coalesce(min1_keep - INTERVAL '1 hour', INTERVAL '7 days'))),
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour',
    buckets_per_batch => 7);

  PERFORM remove_retention_policy('telemetry_1min', if_exists => true);
  IF min1_keep IS NOT NULL THEN
    PERFORM add_retention_policy('telemetry_1min', drop_after => min1_keep);
  END IF;
  PERFORM remove_retention_policy('telemetry_1h', if_exists => true);
  IF h1_days IS NOT NULL THEN
    PERFORM add_retention_policy('telemetry_1h', drop_after => make_interval(days => h1_days));
  END IF;
  PERFORM remove_retention_policy('telemetry_1day', if_exists => true);
  IF d1_days IS NOT NULL THEN
    PERFORM add_retention_policy('telemetry_1day', drop_after => make_interval(days => d1_days));
  END IF;
END $$;

-- The one entry point `npm run retention` calls, on either engine (see 0003_telemetry.plain.sql).
CREATE FUNCTION warehouse_set_retention(p_grain text, p_days integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE warehouse_retention SET keep_days = p_days, updated_at = now() WHERE grain = p_grain;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown grain "%": expected raw, 1min, 1h or 1day', p_grain USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM warehouse_apply_policies();
END $$;

SELECT warehouse_apply_policies();
