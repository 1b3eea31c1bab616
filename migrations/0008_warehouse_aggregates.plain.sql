-- Rollup tables v2: the same new columns as the TimescaleDB aggregates (0008_*.timescale.sql),
-- computed by maintenance (layers/core/src/warehouse/rollups.ts) with the overflow-safe
-- arithmetic of 0007. Existing rows keep their values; numeric_count is filled for them as the
-- aggregates fill it for copied rows, and the rollup watermark goes back so the next maintenance
-- run recomputes every bucket that still has raw rows with the new definition.
ALTER TABLE telemetry_1min
  ADD COLUMN numeric_count bigint,
  ADD COLUMN first_value double precision,
  ADD COLUMN first_ts timestamptz,
  ADD COLUMN counter_rise double precision;
ALTER TABLE telemetry_1h
  ADD COLUMN numeric_count bigint,
  ADD COLUMN first_value double precision,
  ADD COLUMN first_ts timestamptz,
  ADD COLUMN counter_rise double precision;
ALTER TABLE telemetry_1day
  ADD COLUMN numeric_count bigint,
  ADD COLUMN first_value double precision,
  ADD COLUMN first_ts timestamptz,
  ADD COLUMN counter_rise double precision;

UPDATE telemetry_1min SET numeric_count = CASE WHEN value_avg IS NOT NULL THEN sample_count ELSE 0 END;
UPDATE telemetry_1h SET numeric_count = CASE WHEN value_avg IS NOT NULL THEN sample_count ELSE 0 END;
UPDATE telemetry_1day SET numeric_count = CASE WHEN value_avg IS NOT NULL THEN sample_count ELSE 0 END;

UPDATE maintenance_watermarks SET ingested_through = '-infinity', updated_at = now() WHERE task = 'rollups';
