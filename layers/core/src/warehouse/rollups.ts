import type { SqlDatabase, SqlSession } from '../db/session.ts';
import type { RetentionSettings } from './retention.ts';
import { withWatermark, type IncrementalRun } from './watermark.ts';

/**
 * Plain PostgreSQL stand-in for the continuous aggregates: rollup tables with the same names,
 * columns and definitions (migrations/0008_warehouse_aggregates.timescale.sql), kept
 * incrementally: only buckets that received rows since the last run are recomputed, each from all
 * of its input rows, and upserted. Re-running is therefore harmless (same rows), and late rows
 * simply make their bucket dirty again. Like the hierarchical aggregates, 1h and 1day are computed
 * from telemetry_1min. Sums go through the overflow-safe helpers of migration 0007.
 */

export interface RollupCounts {
  '1min': number;
  '1h': number;
  '1day': number;
}

export type RollupReport = IncrementalRun<RollupCounts>;

/** The oldest times each input is still folded from (warehouse_fold_from): never over dropped rows. */
export interface FoldWindow {
  /** raw rows before this are not rolled up into 1min */
  raw: string;
  /** 1h and 1day buckets starting before this are not recomputed from 1min */
  oneMinute: string;
}

// date_bin with a fixed UTC origin buckets exactly as time_bucket does (minute, hour, UTC day),
// whatever the session's TimeZone.
const ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;

const COLUMNS = `bucket, source, fact_name, sample_count, value_sum, value_avg, value_min, value_max, last_value, last_str, last_ts,
  numeric_count, first_value, first_ts, counter_rise`;

const UPSERT = `ON CONFLICT (bucket, source, fact_name) DO UPDATE SET
    sample_count = EXCLUDED.sample_count, value_sum = EXCLUDED.value_sum, value_avg = EXCLUDED.value_avg,
    value_min = EXCLUDED.value_min, value_max = EXCLUDED.value_max, last_value = EXCLUDED.last_value,
    last_str = EXCLUDED.last_str, last_ts = EXCLUDED.last_ts, numeric_count = EXCLUDED.numeric_count,
    first_value = EXCLUDED.first_value, first_ts = EXCLUDED.first_ts, counter_rise = EXCLUDED.counter_rise
  -- an unchanged bucket is not rewritten: reruns leave no dead tuples behind
  WHERE (r.sample_count, r.value_sum, r.value_min, r.value_max, r.last_value, r.last_str, r.last_ts,
         r.numeric_count, r.first_value, r.first_ts, r.counter_rise)
    IS DISTINCT FROM (EXCLUDED.sample_count, EXCLUDED.value_sum, EXCLUDED.value_min, EXCLUDED.value_max,
                      EXCLUDED.last_value, EXCLUDED.last_str, EXCLUDED.last_ts, EXCLUDED.numeric_count,
                      EXCLUDED.first_value, EXCLUDED.first_ts, EXCLUDED.counter_rise)`;

/**
 * Buckets of `width` that received raw rows since $1, from raw rows no older than $2, and (for
 * the grains built on 1min) starting no earlier than $3.
 */
const touched = (width: string, bucketFrom: string) => `touched AS (
    SELECT DISTINCT source, fact_name, date_bin(INTERVAL '${width}', ts, ${ORIGIN}) AS bucket
    FROM telemetry_events
    WHERE ingested_at > $1 AND ts >= $2 AND date_bin(INTERVAL '${width}', ts, ${ORIGIN}) >= ${bucketFrom}),
  span AS (SELECT min(bucket) AS lo, max(bucket) + INTERVAL '${width}' AS hi FROM touched)`;

// The input is joined to the touched buckets by bucket EQUALITY (a hash join) and bounded by the
// touched span, which prunes partitions at run time: a join on "ts within the bucket" gets a merge
// join on (source, fact_name) whose filter is quadratic in the rows per series.
// Same definition as telemetry_1min in the TimescaleDB migration (last() = latest by ts):
// a = the row's average, n = its numeric samples (numeric_count, or on rows written before it
// existed sample_count when the row has a numeric value).
const ONE_MINUTE = `WITH ${touched('1 minute', '$2')},
  up AS (
    INSERT INTO telemetry_1min AS r (${COLUMNS})
    SELECT t.bucket, t.source, t.fact_name,
           sum(e.sample_count),
           warehouse_sum(sum(x.a * x.n) FILTER (WHERE abs(x.a) < 1e280), sum(x.a::text::numeric * x.n) FILTER (WHERE abs(x.a) >= 1e280)),
           warehouse_avg(sum(x.a * x.n) FILTER (WHERE abs(x.a) < 1e280), sum(x.a::text::numeric * x.n) FILTER (WHERE abs(x.a) >= 1e280), sum(x.n)),
           min(coalesce(e.value_min, e.value_float)),
           max(coalesce(e.value_max, e.value_float)),
           (array_agg(e.value_float ORDER BY e.ts DESC) FILTER (WHERE e.value_float IS NOT NULL))[1],
           (array_agg(e.value_str ORDER BY e.ts DESC))[1],
           max(e.ts),
           sum(x.n),
           (array_agg(e.value_float ORDER BY e.ts) FILTER (WHERE e.value_float IS NOT NULL))[1],
           min(e.ts),
           warehouse_counter_rise(NULL::float8, e.value_float, e.ts, e.value_float, e.ts ORDER BY e.ts)
    FROM telemetry_events e
    JOIN touched t ON t.source = e.source AND t.fact_name = e.fact_name
     AND t.bucket = date_bin(INTERVAL '1 minute', e.ts, ${ORIGIN})
    CROSS JOIN LATERAL (SELECT coalesce(e.value_avg, e.value_float) AS a,
      coalesce(e.numeric_count, CASE WHEN coalesce(e.value_avg, e.value_float) IS NOT NULL THEN e.sample_count ELSE 0 END) AS n) x
    WHERE e.ts >= (SELECT lo FROM span) AND e.ts < (SELECT hi FROM span)
    GROUP BY t.bucket, t.source, t.fact_name
    ${UPSERT}
    RETURNING 1)
  SELECT count(*)::int AS n FROM up`;

// Same definition as telemetry_1h / telemetry_1day in the TimescaleDB migration.
const fromOneMinute = (table: string, width: string) => `WITH ${touched(width, '$3')},
  up AS (
    INSERT INTO ${table} AS r (${COLUMNS})
    SELECT t.bucket, t.source, t.fact_name,
           sum(m.sample_count)::bigint,
           warehouse_sum(sum(m.value_sum) FILTER (WHERE abs(m.value_sum) < 1e300),
                         sum(m.value_avg::text::numeric * m.numeric_count) FILTER (WHERE NOT abs(m.value_sum) < 1e300)),
           warehouse_avg(sum(m.value_sum) FILTER (WHERE abs(m.value_sum) < 1e300),
                         sum(m.value_avg::text::numeric * m.numeric_count) FILTER (WHERE NOT abs(m.value_sum) < 1e300),
                         sum(m.numeric_count)),
           min(m.value_min),
           max(m.value_max),
           (array_agg(m.last_value ORDER BY m.last_ts DESC) FILTER (WHERE m.last_value IS NOT NULL))[1],
           (array_agg(m.last_str ORDER BY m.last_ts DESC))[1],
           max(m.last_ts),
           sum(m.numeric_count)::bigint,
           (array_agg(m.first_value ORDER BY m.first_ts) FILTER (WHERE m.first_value IS NOT NULL AND m.first_ts IS NOT NULL))[1],
           min(m.first_ts),
           warehouse_counter_rise(m.counter_rise, m.first_value, m.first_ts, m.last_value, m.last_ts ORDER BY m.bucket)
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

/** Where each input is folded from at `now` (warehouse_fold_from, migration 0007). */
export async function foldWindow(db: SqlSession, now: Date): Promise<FoldWindow> {
  const { rows } = await db.query<{ raw: string; one_minute: string }>(`SELECT warehouse_fold_from('raw', $1)::text AS raw, warehouse_fold_from('1min', $1)::text AS one_minute`, [
    now.toISOString(),
  ]);
  const row = rows[0];
  if (!row) throw new Error('warehouse_fold_from returned nothing: is warehouse_retention seeded?');
  return { raw: row.raw, oneMinute: row.one_minute };
}

/**
 * Recomputes the buckets touched since the last run. Rows older than the fold window are
 * ignored: their bucket's other rows may already be gone, and a partial recompute would overwrite
 * a complete aggregate.
 */
export async function refreshRollups(db: SqlDatabase, fold: FoldWindow): Promise<RollupReport> {
  return withWatermark(db, 'rollups', async (tx, since) => {
    // In order: 1h and 1day read the 1min rows the first statement just wrote.
    const oneMinute = await count(tx, ONE_MINUTE, [since, fold.raw]);
    const oneHour = await count(tx, ONE_HOUR, [since, fold.raw, fold.oneMinute]);
    const oneDay = await count(tx, ONE_DAY, [since, fold.raw, fold.oneMinute]);
    return { '1min': oneMinute, '1h': oneHour, '1day': oneDay };
  });
}

export type ExpiredRollups = RollupCounts;

/**
 * Deletes rollup rows past their grain's retention (TimescaleDB: the aggregates' retention
 * policies), and records how far each grain was cut (dropped_before), in the same transaction.
 */
export async function expireRollups(db: SqlDatabase, now: Date, retention: RetentionSettings): Promise<ExpiredRollups> {
  const expire = async (tx: SqlSession, grain: keyof RollupCounts, days: number | null): Promise<number> => {
    if (days === null) return 0;
    return count(
      tx,
      `WITH horizon AS (SELECT $1::timestamptz - make_interval(days => $2) AS h),
       gone AS (DELETE FROM telemetry_${grain} WHERE bucket < (SELECT h FROM horizon) RETURNING 1),
       cut AS (UPDATE warehouse_retention SET dropped_before = greatest(dropped_before, (SELECT h FROM horizon))
               WHERE grain = $3 RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [now.toISOString(), days, grain],
    );
  };
  return db.transaction(async (tx) => ({
    '1min': await expire(tx, '1min', retention['1min']),
    '1h': await expire(tx, '1h', retention['1h']),
    '1day': await expire(tx, '1day', retention['1day']),
  }));
}
