-- telemetry_events on plain PostgreSQL (RDS behind RDS Proxy, the embedded database): range
-- partitioned by UTC day, with rollup TABLES standing in for TimescaleDB's continuous aggregates.
-- Same columns and unique key as 0003_telemetry.timescale.sql; the ingest writer relies on both.
-- Partitions, rollups and retention are kept by the maintenance step (layers/core/src/warehouse).

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
) PARTITION BY RANGE (ts);
CREATE INDEX telemetry_events_ts_idx ON telemetry_events (ts DESC);
-- Maintenance finds rows written since its last run by ingested_at; it grows with time inside a
-- partition, so a BRIN index is tiny and costs the writer almost nothing.
CREATE INDEX telemetry_events_ingested_idx ON telemetry_events USING brin (ingested_at);

-- Safety net: a row for a day without a partition (clock skew beyond the days created ahead, or
-- older than retention) lands here instead of failing the ingest batch. Maintenance moves such
-- rows into the day's partition when it creates it, and deletes them once past retention.
CREATE TABLE telemetry_events_default PARTITION OF telemetry_events DEFAULT;

-- Creates the daily partitions telemetry_events_pYYYYMMDD for [first_day, last_day] (UTC) that do
-- not exist yet. The new table is filled from the default partition and then attached: PostgreSQL
-- refuses a partition that overlaps rows held by the default, and ATTACH only takes a SHARE UPDATE
-- EXCLUSIVE lock on the parent, so ingest keeps writing meanwhile.
CREATE FUNCTION warehouse_create_partitions(first_day date, last_day date)
RETURNS TABLE (created integer, moved_rows bigint) LANGUAGE plpgsql AS $$
DECLARE
  day  date;
  part text;
  lo   timestamptz;
  hi   timestamptz;
  n    bigint;
BEGIN
  -- A lock request queues every later writer behind it: give up quickly if a long reader (an
  -- export) holds the table, and let the next maintenance run try again.
  PERFORM set_config('lock_timeout', '5s', true);
  created := 0;
  moved_rows := 0;
  FOR day IN SELECT d::date FROM generate_series(first_day, last_day, INTERVAL '1 day') AS d LOOP
    part := 'telemetry_events_p' || to_char(day, 'YYYYMMDD');
    CONTINUE WHEN EXISTS (
      SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'telemetry_events'::regclass AND c.relname = part);
    lo := day::timestamp AT TIME ZONE 'UTC';
    hi := (day + 1)::timestamp AT TIME ZONE 'UTC';
    -- Held to commit: no row for this day can enter the default between the move and the attach
    -- (taken at the level ATTACH needs anyway, so it is never upgraded mid-way).
    LOCK TABLE telemetry_events_default IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('CREATE TABLE %I (LIKE telemetry_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
      'WITH moved AS (DELETE FROM telemetry_events_default WHERE ts >= $1 AND ts < $2 RETURNING *) '
      'INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('ALTER TABLE telemetry_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    created := created + 1;
    moved_rows := moved_rows + n;
  END LOOP;
  RETURN NEXT;
END $$;

-- Drops the daily partitions entirely older than `horizon` and deletes default-partition rows
-- older than it: the plain-PostgreSQL equivalent of a TimescaleDB retention policy (whole days,
-- as TimescaleDB drops whole chunks).
CREATE FUNCTION warehouse_drop_partitions(horizon timestamptz)
RETURNS TABLE (dropped integer, purged_rows bigint) LANGUAGE plpgsql AS $$
DECLARE
  part text;
BEGIN
  -- Dropping a partition locks telemetry_events exclusively: wait briefly, never stall ingest.
  PERFORM set_config('lock_timeout', '5s', true);
  dropped := 0;
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'telemetry_events'::regclass
      AND c.relname ~ '^telemetry_events_p[0-9]{8}$'
      AND (to_date(right(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= horizon
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    dropped := dropped + 1;
  END LOOP;
  DELETE FROM telemetry_events_default WHERE ts < horizon;
  GET DIAGNOSTICS purged_rows = ROW_COUNT;
  RETURN NEXT;
END $$;

-- Rollup tables: the same names and columns as the TimescaleDB continuous aggregates (see
-- 0003_telemetry.timescale.sql for what each column holds), kept incrementally by maintenance.
CREATE TABLE telemetry_1min (
  bucket       timestamptz      NOT NULL,
  source       text             NOT NULL,
  fact_name    text             NOT NULL,
  sample_count bigint           NOT NULL,
  value_sum    double precision,
  value_avg    double precision,
  value_min    double precision,
  value_max    double precision,
  last_value   double precision,
  last_str     text,
  last_ts      timestamptz      NOT NULL,
  PRIMARY KEY (bucket, source, fact_name)
);
CREATE TABLE telemetry_1h (LIKE telemetry_1min INCLUDING ALL);
CREATE TABLE telemetry_1day (LIKE telemetry_1min INCLUDING ALL);
-- Series queries (one source and fact over time), as the continuous aggregates' group indexes serve.
CREATE INDEX telemetry_1min_series_idx ON telemetry_1min (source, fact_name, bucket DESC);
CREATE INDEX telemetry_1h_series_idx ON telemetry_1h (source, fact_name, bucket DESC);
CREATE INDEX telemetry_1day_series_idx ON telemetry_1day (source, fact_name, bucket DESC);

-- The one entry point `npm run retention` calls, on either engine (see 0003_telemetry.timescale.sql).
-- Here the setting is all there is: the next maintenance run applies it.
CREATE FUNCTION warehouse_set_retention(p_grain text, p_days integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE warehouse_retention SET keep_days = p_days, updated_at = now() WHERE grain = p_grain;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown grain "%": expected raw, 1min, 1h or 1day', p_grain USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM warehouse_check_retention();
END $$;

-- Partitions back to the retention horizon and a few days ahead, so ingest never depends on the
-- first maintenance run (the ingest window accepts events up to the raw retention in the past).
SELECT * FROM warehouse_create_partitions(
  ((now() - make_interval(days => (SELECT keep_days FROM warehouse_retention WHERE grain = 'raw'))) AT TIME ZONE 'UTC')::date,
  (now() AT TIME ZONE 'UTC')::date + 3);
