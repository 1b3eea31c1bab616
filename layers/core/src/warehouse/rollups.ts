import type { SqlDatabase, SqlSession } from '../db/session.ts';
import type { RetentionSettings } from './retention.ts';
import { withWatermark, type IncrementalRun } from './watermark.ts';

/**
 * Plain PostgreSQL stand-in for the continuous aggregates: rollup tables with the same names,
 * columns and definitions (0003_telemetry.timescale.sql), kept incrementally: only buckets that
 * received rows since the last run are recomputed, each from all of its input rows, and upserted.
 * Re-running is therefore harmless (same rows), and late rows simply make their bucket dirty again.
 * Like the hierarchical aggregates, 1h and 1day are computed from telemetry_1min.
 */

export interface RollupCounts {
  '1min': number;
  '1h': number;
  '1day': number;
}

export type RollupReport = IncrementalRun<RollupCounts>;

// date_bin with a fixed UTC origin buckets exactly as time_bucket does (minute, hour, UTC day),
// whatever the session's TimeZone.
const ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;

const COLUMNS = 'bucket, source, fact_name, sample_count, value_sum, value_avg, value_min, value_max, last_value, last_str, last_ts';

const UPSERT = `ON CONFLICT (bucket, source, fact_name) DO UPDATE SET
    sample_count = EXCLUDED.sample_count, value_sum = EXCLUDED.value_sum, value_avg = EXCLUDED.value_avg,
    value_min = EXCLUDED.value_min, value_max = EXCLUDED.value_max, last_value = EXCLUDED.last_value,
    last_str = EXCLUDED.last_str, last_ts = EXCLUDED.last_ts
  -- an unchanged bucket is not rewritten: reruns leave no dead tuples behind
  WHERE (r.sample_count, r.value_sum, r.value_min, r.value_max, r.last_value, r.last_str, r.last_ts)
    IS DISTINCT FROM (EXCLUDED.sample_count, EXCLUDED.value_sum, EXCLUDED.value_min, EXCLUDED.value_max,
                      EXCLUDED.last_value, EXCLUDED.last_str, EXCLUDED.last_ts)`;

/** Buckets of `width` that received raw rows since $1, no older than the raw horizon $2. */
const touched = (width: string) => `touched AS (
    SELECT DISTINCT source, fact_name, date_bin(INTERVAL '${width}', ts, ${ORIGIN}) AS bucket
    FROM telemetry_events
    WHERE ingested_at > $1 AND ts >= $2),
  span AS (SELECT min(bucket) AS lo, max(bucket) + INTERVAL '${width}' AS hi FROM touched)`;

// The input is joined to the touched buckets by bucket EQUALITY (a hash join) and bounded by the
// touched span, which prunes partitions at run time: a join on "ts within the bucket" gets a merge
// join on (source, fact_name) whose filter is quadratic in the rows per series.
// Same definition as telemetry_1min in the TimescaleDB migration (last() = latest by ts).
const ONE_MINUTE = `WITH ${touched('1 minute')},
  up AS (
    INSERT INTO telemetry_1min AS r (${COLUMNS})
    SELECT t.bucket, t.source, t.fact_name,
           sum(e.sample_count),
           sum(coalesce(e.value_avg, e.value_float) * e.sample_count),
           sum(coalesce(e.value_avg, e.value_float) * e.sample_count) / sum(e.sample_count),
           min(coalesce(e.value_min, e.value_float)),
           max(coalesce(e.value_max, e.value_float)),
           (array_agg(e.value_float ORDER BY e.ts DESC))[1],
           (array_agg(e.value_str ORDER BY e.ts DESC))[1],
           max(e.ts)
    FROM telemetry_events e
    JOIN touched t ON t.source = e.source AND t.fact_name = e.fact_name
     AND t.bucket = date_bin(INTERVAL '1 minute', e.ts, ${ORIGIN})
    WHERE e.ts >= (SELECT lo FROM span) AND e.ts < (SELECT hi FROM span)
    GROUP BY t.bucket, t.source, t.fact_name
    ${UPSERT}
    RETURNING 1)
  SELECT count(*)::int AS n FROM up`;

// Same definition as telemetry_1h / telemetry_1day in the TimescaleDB migration.
const fromOneMinute = (table: string, width: string) => `WITH ${touched(width)},
  up AS (
    INSERT INTO ${table} AS r (${COLUMNS})
    SELECT t.bucket, t.source, t.fact_name,
           sum(m.sample_count)::bigint,
           sum(m.value_sum),
           sum(m.value_sum) / sum(m.sample_count),
           min(m.value_min),
           max(m.value_max),
           (array_agg(m.last_value ORDER BY m.last_ts DESC))[1],
           (array_agg(m.last_str ORDER BY m.last_ts DESC))[1],
           max(m.last_ts)
    FROM telemetry_1min m
    JOIN touched t ON t.source = m.source AND t.fact_name = m.fact_name
     AND t.bucket = date_bin(INTERVAL '${width}', m.bucket, ${ORIGIN})
    WHERE m.bucket >= (SELECT lo FROM span) AND m.bucket < (SELECT hi FROM span)
    GROUP BY t.bucket, t.source, t.fact_name
    ${UPSERT}
    RETURNING 1)
  SELECT count(*)::int AS n FROM up`;

const ONE_HOUR = fromOneMinute('telemetry_1h', '1 hour');
const ONE_DAY = fromOneMinute('telemetry_1day', '1 day');

async function count(tx: SqlSession, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(sql, params);
  return rows[0]?.n ?? 0;
}

/**
 * Recomputes the buckets touched since the last run. Rows older than the raw retention horizon are
 * ignored: their bucket's other rows may already be gone, and a partial recompute would overwrite
 * a complete aggregate.
 */
export async function refreshRollups(db: SqlDatabase, now: Date, rawDays: number): Promise<RollupReport> {
  const horizon = new Date(now.getTime() - rawDays * 86_400_000).toISOString();
  return withWatermark(db, 'rollups', async (tx, since) => {
    // In order: 1h and 1day read the 1min rows the first statement just wrote.
    const oneMinute = await count(tx, ONE_MINUTE, [since, horizon]);
    const oneHour = await count(tx, ONE_HOUR, [since, horizon]);
    const oneDay = await count(tx, ONE_DAY, [since, horizon]);
    return { '1min': oneMinute, '1h': oneHour, '1day': oneDay };
  });
}

export type ExpiredRollups = RollupCounts;

/** Deletes rollup rows past their grain's retention (TimescaleDB: the aggregates' retention policies). */
export async function expireRollups(db: SqlDatabase, now: Date, retention: RetentionSettings): Promise<ExpiredRollups> {
  const expire = async (table: string, days: number | null): Promise<number> => {
    if (days === null) return 0;
    return count(
      db,
      `WITH gone AS (DELETE FROM ${table} WHERE bucket < $1::timestamptz - make_interval(days => $2) RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [now.toISOString(), days],
    );
  };
  return {
    '1min': await expire('telemetry_1min', retention['1min']),
    '1h': await expire('telemetry_1h', retention['1h']),
    '1day': await expire('telemetry_1day', retention['1day']),
  };
}
