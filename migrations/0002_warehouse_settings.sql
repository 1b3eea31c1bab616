-- Warehouse settings and maintenance bookkeeping, the same on both engines, so that
-- `npm run retention` and `npm run verify` work identically on TimescaleDB and plain PostgreSQL.

-- How long each grain is kept, in days; NULL keeps it forever. On TimescaleDB the policies are
-- rebuilt from this table (warehouse_set_retention); on plain PostgreSQL maintenance reads it.
CREATE TABLE warehouse_retention (
  grain      text        PRIMARY KEY CHECK (grain IN ('raw', '1min', '1h', '1day')),
  keep_days  integer     CHECK (keep_days IS NULL OR keep_days >= 1),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO warehouse_retention (grain, keep_days) VALUES ('raw', 7), ('1min', 30), ('1h', 365), ('1day', NULL);

-- Rules that keep aggregates safe:
-- * raw >= 1 day and every coarser grain keeps at least as long as the finer one, because each
--   aggregate is refreshed from the grain below it and a refresh over dropped input erases rows;
-- * 1min >= 3 days, because the 1day aggregate refreshes a window of at least two whole days
--   (TimescaleDB's minimum) from 1min, and that window must stay inside 1min's retention.
CREATE FUNCTION warehouse_check_retention() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  forever CONSTANT integer := 2147483647;
  raw_days integer; min1_days integer; h1_days integer; d1_days integer;
BEGIN
  SELECT keep_days INTO raw_days FROM warehouse_retention WHERE grain = 'raw';
  SELECT coalesce(keep_days, forever) INTO min1_days FROM warehouse_retention WHERE grain = '1min';
  SELECT coalesce(keep_days, forever) INTO h1_days FROM warehouse_retention WHERE grain = '1h';
  SELECT coalesce(keep_days, forever) INTO d1_days FROM warehouse_retention WHERE grain = '1day';
  IF raw_days IS NULL THEN
    RAISE EXCEPTION 'raw retention must be a number of days: raw rows cannot be kept forever'
      USING ERRCODE = 'check_violation';
  END IF;
  IF min1_days < greatest(raw_days, 3) THEN
    RAISE EXCEPTION '1min retention (% days) must be at least the raw retention (% days) and at least 3 days',
      min1_days, raw_days USING ERRCODE = 'check_violation';
  END IF;
  IF h1_days < min1_days THEN
    RAISE EXCEPTION '1h retention (% days) must be at least the 1min retention (% days)', h1_days, min1_days
      USING ERRCODE = 'check_violation';
  END IF;
  IF d1_days < h1_days THEN
    RAISE EXCEPTION '1day retention must be at least the 1h retention' USING ERRCODE = 'check_violation';
  END IF;
END $$;

-- Incremental work is driven by ingested_at (write time), not ts: late rows for old buckets are
-- found by when they arrived. One row per task; the row is also the task's lock (FOR UPDATE SKIP
-- LOCKED), which, unlike an advisory lock, does not pin an RDS Proxy connection.
CREATE TABLE maintenance_watermarks (
  task             text        PRIMARY KEY,
  ingested_through timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO maintenance_watermarks (task, ingested_through) VALUES ('rollups', '-infinity'), ('oee', '-infinity');

-- One row per maintenance run (success or failure), for `npm run verify` and operators.
CREATE TABLE maintenance_runs (
  run_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  engine      text        NOT NULL,
  status      text        NOT NULL CHECK (status IN ('ok', 'failed')),
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  report      jsonb,
  error       text
);
CREATE INDEX maintenance_runs_started_idx ON maintenance_runs (started_at DESC);
