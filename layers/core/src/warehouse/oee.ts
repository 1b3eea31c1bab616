import type { SqlDatabase } from '../db/session.ts';
import { withWatermark, type IncrementalRun } from './watermark.ts';

/**
 * OEE per unit per 5-minute interval, from the facts in telemetry_events (both engines):
 *
 *   availability = share of the unit's `state` samples in the interval whose state is not `idle`;
 *                  a unit that reports no state uses its `pump_running` duty cycle instead
 *                  (the simulator samples at a steady rate, so the sample share is the time share).
 *   performance  = units packaged / (ideal rate x run time), run time = availability x interval,
 *                  capped at 100; units packaged = the rise of the cumulative `packaged_total`
 *                  counter over the interval (from its last value before the interval; a counter
 *                  reset, i.e. a drop, counts as 0). 0 when the unit did not run; NULL when the
 *                  unit reports no packaged_total or has no ideal rate in dim_equipment.
 *   quality      = rise of `packaged_good` / rise of `packaged_total`; NULL when nothing was packaged.
 *   oee          = availability x performance x quality (quality taken as 100 when NULL), which
 *                  equals good units / (ideal rate x interval).
 *
 * Only complete intervals are written (ts = interval start). An interval is (re)computed when it
 * completes and again whenever late rows reach it, within OEE_LATE_DAYS of now: the snapshot is
 * keyed (source, ts) and upserted, so reruns give the same rows.
 */
export const OEE_INTERVAL_MINUTES = 5;
/** Late rows older than this no longer revise OEE (on TimescaleDB they sit in compressed chunks by then). */
export const OEE_LATE_DAYS = 1;

const ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;
const STEP = `make_interval(mins => $4::integer)`;

// $1 = rows ingested after this, $2 = now, $3 = oldest ts considered, $4 = interval minutes
const OEE_SQL = `
WITH candidates AS (
  SELECT DISTINCT e.source, date_bin(${STEP}, e.ts, ${ORIGIN}) AS start
  FROM telemetry_events e
  WHERE e.ts >= $3::timestamptz
    AND e.fact_name IN ('state', 'pump_running', 'packaged_total', 'packaged_good')
    -- new rows, or rows of intervals that may have completed since the last run
    AND (e.ingested_at > $1::timestamptz OR e.ts >= $1::timestamptz - ${STEP})
),
complete AS (
  SELECT source, start FROM candidates WHERE start + ${STEP} <= $2::timestamptz
),
span AS (SELECT min(start) AS lo, max(start) + ${STEP} AS hi FROM complete),
running AS (
  SELECT c.source, c.start,
         avg(CASE WHEN e.value_str <> 'idle' THEN 1.0::float8 ELSE 0.0::float8 END)
           FILTER (WHERE e.fact_name = 'state') AS state_share,
         sum(coalesce(e.value_avg, e.value_float) * e.sample_count) FILTER (WHERE e.fact_name = 'pump_running')
           / sum(e.sample_count) FILTER (WHERE e.fact_name = 'pump_running') AS pump_share
  -- joined by interval equality (a hash join) within the span, as the rollups do (see rollups.ts)
  FROM telemetry_events e
  JOIN complete c ON c.source = e.source AND c.start = date_bin(${STEP}, e.ts, ${ORIGIN})
  WHERE e.fact_name IN ('state', 'pump_running') AND e.ts >= (SELECT lo FROM span) AND e.ts < (SELECT hi FROM span)
  GROUP BY c.source, c.start
),
counters AS (
  SELECT c.source, c.start, f.fact_name, coalesce(sum(greatest(s.v - s.prev, 0)), 0) AS rise
  FROM complete c
  CROSS JOIN (VALUES ('packaged_total'), ('packaged_good')) AS f (fact_name)
  CROSS JOIN LATERAL (
    SELECT x.ts, x.v, lag(x.v) OVER (ORDER BY x.ts) AS prev
    FROM (
      (SELECT e.ts, coalesce(e.value_float, e.value_max) AS v FROM telemetry_events e
        WHERE e.source = c.source AND e.fact_name = f.fact_name
          AND e.ts >= c.start - INTERVAL '1 hour' AND e.ts < c.start
        ORDER BY e.ts DESC LIMIT 1)
      UNION ALL
      SELECT e.ts, coalesce(e.value_float, e.value_max) FROM telemetry_events e
        WHERE e.source = c.source AND e.fact_name = f.fact_name
          AND e.ts >= c.start AND e.ts < c.start + ${STEP}
    ) x
  ) s
  WHERE s.ts >= c.start
  GROUP BY c.source, c.start, f.fact_name
),
scored AS (
  SELECT r.source, r.start,
         coalesce(r.state_share, r.pump_share) AS avail,
         tot.rise AS total, good.rise AS good, d.ideal_rate_per_min AS ideal
  FROM running r
  LEFT JOIN counters tot ON tot.source = r.source AND tot.start = r.start AND tot.fact_name = 'packaged_total'
  LEFT JOIN counters good ON good.source = r.source AND good.start = r.start AND good.fact_name = 'packaged_good'
  LEFT JOIN dim_equipment d ON d.source = r.source
  WHERE coalesce(r.state_share, r.pump_share) IS NOT NULL
),
pct AS (
  SELECT source, start,
         100 * avail AS a,
         CASE WHEN total IS NULL OR ideal IS NULL THEN NULL
              WHEN avail = 0 THEN 0
              ELSE least(100, 100 * total / (ideal * $4::integer * avail)) END AS p,
         CASE WHEN total > 0 AND good IS NOT NULL THEN 100 * least(good, total) / total END AS q
  FROM scored
),
up AS (
  INSERT INTO oee_snapshots AS o (ts, source, availability_pct, performance_pct, quality_pct, oee_pct)
  SELECT start, source, a, p, q, a * p * coalesce(q, 100) / 10000 FROM pct
  ON CONFLICT (source, ts) DO UPDATE SET
    availability_pct = EXCLUDED.availability_pct, performance_pct = EXCLUDED.performance_pct,
    quality_pct = EXCLUDED.quality_pct, oee_pct = EXCLUDED.oee_pct, computed_at = now()
  WHERE (o.availability_pct, o.performance_pct, o.quality_pct, o.oee_pct)
    IS DISTINCT FROM (EXCLUDED.availability_pct, EXCLUDED.performance_pct, EXCLUDED.quality_pct, EXCLUDED.oee_pct)
  RETURNING 1
)
SELECT count(*)::int AS n FROM up`;

export type OeeReport = IncrementalRun<{ snapshotsWritten: number }>;

export async function refreshOee(db: SqlDatabase, now: Date): Promise<OeeReport> {
  const oldest = new Date(now.getTime() - OEE_LATE_DAYS * 86_400_000).toISOString();
  return withWatermark(db, 'oee', async (tx, since) => {
    const { rows } = await tx.query<{ n: number }>(OEE_SQL, [since, now.toISOString(), oldest, OEE_INTERVAL_MINUTES]);
    return { snapshotsWritten: rows[0]?.n ?? 0 };
  });
}
