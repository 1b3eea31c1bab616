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
-- A reading newer than its series' newest stored one (fact_state.ts) is new without a lookup: only
-- resent and late readings pay for the exact check.
ALTER TABLE telemetry_events ADD COLUMN numeric_count integer CHECK (numeric_count >= 0);
ALTER TABLE telemetry_events ADD COLUMN samples bytea;

-- One row per source: ingest locks its sources' rows (FOR UPDATE, in sorted order) before it
-- decides which readings are new, so two deliveries that overlap (two consumers of one shard while a
-- mapping is replaced, a slow attempt beside its retry) take turns instead of both counting the
-- overlap. A row lock ends with the transaction and does not pin an RDS Proxy connection (an
-- advisory lock would). The row is created before it is locked the first time a source is seen,
-- because FOR UPDATE cannot lock a row that does not exist yet.
CREATE TABLE ingest_source (
  source     text        PRIMARY KEY,
  first_seen timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ingest_source (source) SELECT DISTINCT source FROM fact_state;
