-- A source's derived state in its ingest_source row, as two small documents, instead of a row per
-- series in fact_state and anomaly_state: ingest locks that row anyway, and writing a batch's state
-- became one upsert of a row per source (a dozen) instead of two of a row per series (hundreds), a
-- third of the time a merge batch waited for its COMMIT.
--   facts: {"<fact>": [<value>, <event time, epoch microseconds>]}  (the newest reading per fact)
--   ema:   {"<fact>": [<ema>, <emvar>, <samples>, <last event time, epoch microseconds>]}
-- Microseconds since the epoch stay exact in JSON numbers (doubles) until the year 2255.
ALTER TABLE ingest_source
  ADD COLUMN facts jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN ema   jsonb NOT NULL DEFAULT '{}';

INSERT INTO ingest_source (source)
  SELECT source FROM fact_state UNION SELECT source FROM anomaly_state
  ON CONFLICT (source) DO NOTHING;

UPDATE ingest_source s SET facts = f.doc
  FROM (SELECT source, jsonb_object_agg(fact_name, jsonb_build_array(value, (extract(epoch FROM ts) * 1000000)::int8)) AS doc
          FROM fact_state GROUP BY source) f
 WHERE f.source = s.source;

UPDATE ingest_source s SET ema = a.doc
  FROM (SELECT source, jsonb_object_agg(fact_name, jsonb_build_array(ema, emvar, samples, (extract(epoch FROM last_ts) * 1000000)::int8)) AS doc
          FROM anomaly_state GROUP BY source) a
 WHERE a.source = s.source;

DROP TABLE fact_state, anomaly_state;

-- The same state a row per series, under the old names, for operators and the docs' queries.
CREATE VIEW fact_state AS
  SELECT s.source, f.key AS fact_name, f.value -> 0 AS value,
         timestamptz 'epoch' + (f.value ->> 1)::int8 * interval '1 microsecond' AS ts
    FROM ingest_source s CROSS JOIN LATERAL jsonb_each(s.facts) f;

CREATE VIEW anomaly_state AS
  SELECT s.source, e.key AS fact_name, (e.value ->> 0)::float8 AS ema, (e.value ->> 1)::float8 AS emvar, (e.value ->> 2)::int AS samples,
         timestamptz 'epoch' + (e.value ->> 3)::int8 * interval '1 microsecond' AS last_ts
    FROM ingest_source s CROSS JOIN LATERAL jsonb_each(s.ema) e;
