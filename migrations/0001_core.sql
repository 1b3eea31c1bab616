-- Core tables. Plain PostgreSQL first: everything here also runs behind RDS Proxy, where
-- TimescaleDB is not available. TimescaleDB-only steps live in *.timescale.sql files.

-- telemetry_events is engine-specific (a hypertable on TimescaleDB, a day-partitioned table on
-- plain PostgreSQL): see 0003_telemetry.*.sql. Its columns and unique key are the same on both.

-- Highest Kinesis sequence number committed per (shard, partition key). Lambda keeps order per
-- partition key even with ParallelizationFactor > 1, so records at or below it were already merged
-- and written: a redelivered window (retry, bisect, partial response) is skipped exactly, instead of
-- being merged again with different batch boundaries and counted twice in sample_count.
CREATE TABLE ingest_checkpoint (
  shard_id      text        NOT NULL,
  partition_key text        NOT NULL,
  sequence      numeric     NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shard_id, partition_key)
);

-- Latest known value of every fact per source: the fact base the rules are evaluated against.
CREATE TABLE fact_state (
  source     text        NOT NULL,
  fact_name  text        NOT NULL,
  value      jsonb       NOT NULL,
  ts         timestamptz NOT NULL,
  PRIMARY KEY (source, fact_name)
);

-- Edge-triggered rules: a rule fires when it becomes active, so its state must survive containers.
CREATE TABLE rule_state (
  source     text        NOT NULL,
  rule_id    text        NOT NULL,
  active     boolean     NOT NULL,
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (source, rule_id)
);

-- EMA anomaly detector state per series.
CREATE TABLE anomaly_state (
  source    text             NOT NULL,
  fact_name text             NOT NULL,
  ema       double precision NOT NULL,
  emvar     double precision NOT NULL,
  samples   integer          NOT NULL,
  last_ts   timestamptz      NOT NULL,
  PRIMARY KEY (source, fact_name)
);

-- Transactional outbox: derived events are stored with the rows that caused them, then published.
-- A failed publish leaves them here for the next invocation, so no derived event is lost.
-- claimed_until lets one invocation claim rows with a single UPDATE ... SKIP LOCKED (no session
-- state, so RDS Proxy keeps multiplexing); a crashed claimer's rows come back when the claim expires.
CREATE TABLE event_outbox (
  event_id      text        PRIMARY KEY,
  body          jsonb       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  claimed_until timestamptz NOT NULL DEFAULT '-infinity'
);
CREATE INDEX event_outbox_created_idx ON event_outbox (created_at);

CREATE TABLE rule_events (
  event_id      text        PRIMARY KEY,
  ts            timestamptz NOT NULL,
  source        text        NOT NULL,
  rule_id       text        NOT NULL,
  rules_version text        NOT NULL,
  written_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rule_events_ts_idx ON rule_events (ts DESC);

CREATE TABLE anomaly_events (
  event_id   text             PRIMARY KEY,
  ts         timestamptz      NOT NULL,
  source     text             NOT NULL,
  fact_name  text             NOT NULL,
  value      double precision NOT NULL,
  ema        double precision NOT NULL,
  sigma      double precision NOT NULL,
  written_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX anomaly_events_ts_idx ON anomaly_events (ts DESC);
