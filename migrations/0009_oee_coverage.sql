-- OEE that says how much it knows (docs/warehouse.md, "OEE").
--
-- dim_equipment.running_fact: which fact tells that a unit runs. 'state' (the default): running
-- while its state is not 'idle'. Any other fact (e.g. 'pump_running'): running while its value is
-- above 0. There is no fallback from one to the other: a unit without its running fact has
-- availability NULL, with the reason.
-- dim_equipment.sample_hold_s: how long one reading of the running fact stands for at most (it
-- stands until the next one): units that report at a steady rate need little, units that report
-- only on change need their longest steady spell.
ALTER TABLE dim_equipment
  ADD COLUMN running_fact text NOT NULL DEFAULT 'state' CHECK (running_fact ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  ADD COLUMN sample_hold_s integer NOT NULL DEFAULT 300 CHECK (sample_hold_s > 0);

-- coverage_s: seconds of the interval covered by readings of the running fact (time-weighted:
-- each reading until the next, at most sample_hold_s). partial: coverage below 95 % of the
-- interval (a run that started or stopped inside it, a gap in the data); dashboards filter on it.
-- null_reason: why the first of availability, performance, quality, oee that is NULL is NULL.
-- Rows written before this migration have coverage_s, partial and null_reason NULL.
ALTER TABLE oee_snapshots
  ALTER COLUMN availability_pct DROP NOT NULL,
  ADD COLUMN coverage_s double precision CHECK (coverage_s >= 0),
  ADD COLUMN partial boolean,
  ADD COLUMN null_reason text CHECK (null_reason IN
    ('no_running_data', 'no_ideal_rate', 'no_packaged_total', 'no_packaged_good', 'nothing_packaged'));

-- Recompute the intervals maintenance still revises (the last day) with the new definitions.
UPDATE maintenance_watermarks SET ingested_through = '-infinity', updated_at = now() WHERE task = 'oee';
