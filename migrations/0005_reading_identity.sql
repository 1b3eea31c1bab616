-- Reading identity (docs/guarantees.md): a reading is (source, fact, ts at microseconds), and
-- every reading that enters is counted once in sample_count, however often a producer resends it.

-- numeric_count: the numeric (number or boolean) samples among sample_count, so sums and
-- averages of a fact that mixes numbers and strings count only what they averaged. NULL on rows
-- written before this migration.
-- samples: the identities merged into a row with more than one sample, so a resent or late
-- reading below the series' newest can be checked exactly: 8 bytes per sample, sorted, each the
-- microseconds from the row's minute (uint32, big-endian) and a fingerprint of the reading's id
-- and value (uint32). NULL when the row holds one sample: then ts, event_id and the value are it.
-- Merged rows never cross a minute boundary, so a reading's row is found in its own minute.
ALTER TABLE telemetry_events ADD COLUMN numeric_count integer CHECK (numeric_count >= 0);
ALTER TABLE telemetry_events ADD COLUMN samples bytea;

-- fact_state is also each series' gate: ingest locks its rows (FOR UPDATE) before it decides
-- which readings are new, and fact_state.ts is the newest reading stored for the series. A
-- series seen for the first time gets its row (value and ts NULL) before the lock, because
-- FOR UPDATE cannot lock a row that does not exist yet.
ALTER TABLE fact_state ALTER COLUMN value DROP NOT NULL;
ALTER TABLE fact_state ALTER COLUMN ts DROP NOT NULL;
