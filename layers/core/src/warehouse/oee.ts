import type { SqlDatabase } from '../db/session.ts';
import { withWatermark, type IncrementalRun } from './watermark.ts';

/**
 * OEE per unit per 5-minute interval, from the facts in telemetry_events (both engines); every
 * case is defined in docs/warehouse.md ("OEE"). In short:
 *
 *   running      from the unit's running fact (dim_equipment.running_fact, default `state`: running
 *                while not `idle`; any other fact: running while its value is above 0). Each
 *                reading stands until the next one, at most dim_equipment.sample_hold_s (default
 *                300 s): availability is a share of TIME, also for units that report on change.
 *   coverage_s   seconds of the interval covered by readings; `partial` below 95 % of it.
 *   availability = running time / covered time; NULL without readings (no fallback to another fact).
 *   performance  = units packaged / (ideal rate x running time), capped at 100; units packaged =
 *                  the reset-aware rise of `packaged_total` (warehouse_counter_rise, the same as
 *                  every grain's `increase`: a drop counts 0, readings over an hour apart start a
 *                  new baseline). 0 when the unit did not run; NULL without an ideal rate or without
 *                  any packaged_total reading in the interval or the hour before it.
 *   quality      = rise of packaged_good / rise of packaged_total (capped at 100); NULL when nothing
 *                  was packaged or packaged_good has no reading in the interval or the hour before.
 *   oee          = availability x performance x quality; 0 when performance is 0; NULL when any
 *                  other part is NULL (never computed as if quality were 100 %).
 *   null_reason  why the first NULL part is NULL.
 *
 * Only complete intervals are written (ts = interval start). An interval is (re)computed when it
 * completes and again whenever late rows reach it, within OEE_LATE_DAYS of now: the snapshot is
 * keyed (source, ts) and upserted, so reruns give the same rows. All arithmetic is numeric: no
 * reading can make the statement fail for the other units.
 */
export const OEE_INTERVAL_MINUTES = 5;
/** Late rows older than this no longer revise OEE (on TimescaleDB they sit in compressed chunks by then). */
export const OEE_LATE_DAYS = 1;
/** Coverage below this share of the interval marks the snapshot partial. */
export const OEE_FULL_COVERAGE = 0.95;

const ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;
const STEP = `make_interval(mins => $4::integer)`;
const DEFAULT_HOLD = `make_interval(secs => 300)`;

// 1 running, 0 not, NULL when the row is no reading of the running fact
const running = (fact: string) => `CASE WHEN ${fact} = 'state'
    THEN CASE WHEN e.value_str IS NULL THEN NULL WHEN e.value_str <> 'idle' THEN 1 ELSE 0 END
    ELSE CASE WHEN e.value_float IS NULL THEN NULL WHEN e.value_float > 0 THEN 1 ELSE 0 END END`;

// $1 = rows ingested after this, $2 = now, $3 = oldest ts considered, $4 = interval minutes, $5 = full coverage share
const OEE_SQL = `
WITH settings AS (
  SELECT source, running_fact, make_interval(secs => sample_hold_s) AS hold, ideal_rate_per_min AS ideal FROM dim_equipment
),
candidates AS (
  SELECT DISTINCT e.source, s.start
  FROM telemetry_events e
  LEFT JOIN settings d ON d.source = e.source
  -- a reading of the running fact also stands for the intervals it holds into
  CROSS JOIN LATERAL generate_series(
    date_bin(${STEP}, e.ts, ${ORIGIN}),
    date_bin(${STEP}, e.ts + CASE WHEN e.fact_name = coalesce(d.running_fact, 'state') THEN coalesce(d.hold, ${DEFAULT_HOLD})
                                  ELSE INTERVAL '0' END, ${ORIGIN}),
    ${STEP}) AS s (start)
  WHERE e.ts >= $3::timestamptz
    -- a known unit with any data gets its snapshot (with the reason when OEE cannot be computed)
    AND (d.source IS NOT NULL OR e.fact_name IN ('state', 'packaged_total', 'packaged_good'))
    -- new rows, or rows of intervals that may have completed since the last run
    AND (e.ingested_at > $1::timestamptz OR e.ts >= $1::timestamptz - ${STEP} - coalesce(d.hold, ${DEFAULT_HOLD}))
),
complete AS (
  SELECT c.source, c.start, coalesce(d.running_fact, 'state') AS running_fact, coalesce(d.hold, ${DEFAULT_HOLD}) AS hold, d.ideal
  FROM candidates c LEFT JOIN settings d ON d.source = c.source
  WHERE c.start + ${STEP} <= $2::timestamptz AND c.start >= date_bin(${STEP}, $3::timestamptz, ${ORIGIN})
),
held AS (
  -- each reading (the last one before the interval too) until the next, at most hold, inside the interval
  SELECT c.source, c.start,
         sum(h.seconds) AS covered_s,
         sum(h.seconds * h.running) AS run_s
  FROM complete c
  CROSS JOIN LATERAL (
    SELECT greatest(0, extract(epoch FROM least(r.next_ts, r.ts + c.hold, c.start + ${STEP}) - greatest(r.ts, c.start))) AS seconds,
           r.running
    FROM (
      SELECT x.ts, x.running, lead(x.ts) OVER (ORDER BY x.ts) AS next_ts
      FROM (
        (SELECT e.ts, ${running('c.running_fact')} AS running FROM telemetry_events e
          WHERE e.source = c.source AND e.fact_name = c.running_fact AND (${running('c.running_fact')}) IS NOT NULL
            AND e.ts < c.start AND e.ts >= c.start - c.hold
          ORDER BY e.ts DESC LIMIT 1)
        UNION ALL
        SELECT e.ts, ${running('c.running_fact')} FROM telemetry_events e
          WHERE e.source = c.source AND e.fact_name = c.running_fact AND (${running('c.running_fact')}) IS NOT NULL
            AND e.ts >= c.start AND e.ts < c.start + ${STEP}
        UNION ALL
        -- the first reading after the interval only ends the last one inside it
        (SELECT e.ts, NULL FROM telemetry_events e
          WHERE e.source = c.source AND e.fact_name = c.running_fact AND (${running('c.running_fact')}) IS NOT NULL
            AND e.ts >= c.start + ${STEP}
          ORDER BY e.ts LIMIT 1)
      ) x
    ) r
    WHERE r.running IS NOT NULL
  ) h
  GROUP BY c.source, c.start
),
counters AS (
  -- the readings in the interval and the last one in the hour before it, whose rises are summed
  SELECT c.source, c.start, f.fact_name,
         warehouse_counter_rise(NULL::float8, x.v, x.ts, x.v, x.ts ORDER BY x.ts)::numeric AS rise
  FROM complete c
  CROSS JOIN (VALUES ('packaged_total'), ('packaged_good')) AS f (fact_name)
  CROSS JOIN LATERAL (
    (SELECT e.ts, e.value_float AS v FROM telemetry_events e
      WHERE e.source = c.source AND e.fact_name = f.fact_name AND e.value_float IS NOT NULL
        AND e.ts >= c.start - INTERVAL '1 hour' AND e.ts < c.start
      ORDER BY e.ts DESC LIMIT 1)
    UNION ALL
    SELECT e.ts, e.value_float FROM telemetry_events e
      WHERE e.source = c.source AND e.fact_name = f.fact_name AND e.value_float IS NOT NULL
        AND e.ts >= c.start AND e.ts < c.start + ${STEP}
  ) x
  GROUP BY c.source, c.start, f.fact_name
),
scored AS (
  SELECT c.source, c.start, c.ideal::numeric AS ideal, coalesce(h.covered_s, 0) AS covered_s, h.run_s,
         tot.rise AS total, good.rise AS good
  FROM complete c
  LEFT JOIN held h ON h.source = c.source AND h.start = c.start
  LEFT JOIN counters tot ON tot.source = c.source AND tot.start = c.start AND tot.fact_name = 'packaged_total'
  LEFT JOIN counters good ON good.source = c.source AND good.start = c.start AND good.fact_name = 'packaged_good'
),
parts AS (
  SELECT s.*,
         CASE WHEN covered_s > 0 THEN 100 * run_s / covered_s END AS a,
         CASE WHEN covered_s = 0 OR ideal IS NULL OR total IS NULL THEN NULL
              WHEN run_s = 0 THEN 0
              ELSE least(100, 100 * total / (ideal / 60 * run_s)) END AS p,
         CASE WHEN total IS NULL OR good IS NULL OR total = 0 THEN NULL
              WHEN good >= total THEN 100
              ELSE 100 * good / total END AS q
  FROM scored s
),
up AS (
  INSERT INTO oee_snapshots AS o (ts, source, availability_pct, performance_pct, quality_pct, oee_pct, coverage_s, partial, null_reason)
  SELECT start, source, a::float8, p::float8, q::float8,
         (CASE WHEN a IS NULL OR p IS NULL THEN NULL WHEN p = 0 THEN 0 WHEN q IS NULL THEN NULL ELSE a * p * q / 10000 END)::float8,
         covered_s::float8,
         covered_s < $5::numeric * 60 * $4::integer,
         CASE WHEN a IS NULL THEN 'no_running_data'
              WHEN ideal IS NULL THEN 'no_ideal_rate'
              WHEN total IS NULL THEN 'no_packaged_total'
              WHEN total = 0 THEN 'nothing_packaged'
              WHEN good IS NULL THEN 'no_packaged_good' END
  FROM parts
  ON CONFLICT (source, ts) DO UPDATE SET
    availability_pct = EXCLUDED.availability_pct, performance_pct = EXCLUDED.performance_pct,
    quality_pct = EXCLUDED.quality_pct, oee_pct = EXCLUDED.oee_pct, coverage_s = EXCLUDED.coverage_s,
    partial = EXCLUDED.partial, null_reason = EXCLUDED.null_reason, computed_at = now()
  WHERE (o.availability_pct, o.performance_pct, o.quality_pct, o.oee_pct, o.coverage_s, o.partial, o.null_reason)
    IS DISTINCT FROM (EXCLUDED.availability_pct, EXCLUDED.performance_pct, EXCLUDED.quality_pct, EXCLUDED.oee_pct,
                      EXCLUDED.coverage_s, EXCLUDED.partial, EXCLUDED.null_reason)
  RETURNING 1
)
SELECT count(*)::int AS n FROM up`;

export type OeeReport = IncrementalRun<{ snapshotsWritten: number }>;

export async function refreshOee(db: SqlDatabase, now: Date): Promise<OeeReport> {
  const oldest = new Date(now.getTime() - OEE_LATE_DAYS * 86_400_000).toISOString();
  return withWatermark(db, 'oee', async (tx, since) => {
    const { rows } = await tx.query<{ n: number }>(OEE_SQL, [since, now.toISOString(), oldest, OEE_INTERVAL_MINUTES, OEE_FULL_COVERAGE]);
    return { snapshotsWritten: rows[0]?.n ?? 0 };
  });
}
