import type { SqlSession } from '#core/db/session';
import type { LiveEvent } from './liveState.ts';

/** One telemetry_1min bucket of a series: [bucket (ms), avg, min, max, samples, last value]. */
export type RollupPoint = [bucketMs: number, avg: number | null, min: number | null, max: number | null, count: number, last: number | null];

export interface RollupRow {
  key: string;
  point: RollupPoint;
  /** Changes when maintenance (or a continuous aggregate refresh) rewrites the bucket. */
  lastTsMs: number;
}

export interface OeeRow {
  source: string;
  tsMs: number;
  oee: number | null;
  availability: number;
  performance: number | null;
  quality: number | null;
}

/** Per minute of event time: how long rows took to reach the warehouse, and how many samples came. */
export type DelayPoint = [minuteMs: number, avgSeconds: number, maxSeconds: number, samples: number];

// Every window is anchored on the newest data, not on now: a kept database may be days old.
const ms = (col: string) => `(extract(epoch FROM ${col}) * 1000)::float8`;

/** The last `minutes` of telemetry_1min for every series (one index walk for the anchor). */
export async function recentRollups(db: SqlSession, minutes: number): Promise<RollupRow[]> {
  const { rows } = await db.query<{
    source: string;
    fact_name: string;
    bucket_ms: number;
    value_avg: number | null;
    value_min: number | null;
    value_max: number | null;
    sample_count: number;
    last_value: number | null;
    last_ts_ms: number;
  }>(
    `SELECT source, fact_name, ${ms('bucket')} AS bucket_ms, value_avg, value_min, value_max,
            sample_count::float8 AS sample_count, last_value, ${ms('last_ts')} AS last_ts_ms
       FROM telemetry_1min
      WHERE bucket >= (SELECT max(bucket) FROM telemetry_1min) - make_interval(mins => $1::integer)
      ORDER BY bucket`,
    [minutes],
  );
  return rows.map((r) => ({
    key: `${r.source}/${r.fact_name}`,
    point: [r.bucket_ms, r.value_avg, r.value_min, r.value_max, r.sample_count, r.last_value],
    lastTsMs: r.last_ts_ms,
  }));
}

/** The newest OEE snapshot of every unit. */
export async function latestOee(db: SqlSession): Promise<OeeRow[]> {
  const { rows } = await db.query<{
    source: string;
    ts_ms: number;
    oee_pct: number | null;
    availability_pct: number;
    performance_pct: number | null;
    quality_pct: number | null;
  }>(
    `SELECT DISTINCT ON (source) source, ${ms('ts')} AS ts_ms, oee_pct, availability_pct, performance_pct, quality_pct
       FROM oee_snapshots ORDER BY source, ts DESC`,
  );
  return rows.map((r) => ({ source: r.source, tsMs: r.ts_ms, oee: r.oee_pct, availability: r.availability_pct, performance: r.performance_pct, quality: r.quality_pct }));
}

/** The newest `limit` rule firings and anomalies the writer stored, oldest first. */
export async function recentDerived(db: SqlSession, limit: number): Promise<LiveEvent[]> {
  const { rows: rules } = await db.query<{ event_id: string; ts: string; source: string; rule_id: string }>(
    `SELECT event_id, to_json(ts)#>>'{}' AS ts, source, rule_id FROM rule_events ORDER BY ts DESC LIMIT $1::integer`,
    [limit],
  );
  const { rows: anomalies } = await db.query<{ event_id: string; ts: string; source: string; fact_name: string; value: number; ema: number; sigma: number }>(
    `SELECT event_id, to_json(ts)#>>'{}' AS ts, source, fact_name, value, ema, sigma FROM anomaly_events ORDER BY ts DESC LIMIT $1::integer`,
    [limit],
  );
  const events: LiveEvent[] = [
    ...rules.map((r): LiveEvent => ({ kind: 'rule', id: r.event_id, ts: r.ts, source: r.source, ruleId: r.rule_id })),
    ...anomalies.map((a): LiveEvent => ({ kind: 'anomaly', id: a.event_id, ts: a.ts, source: a.source, fact: a.fact_name, value: a.value, ema: a.ema, sigma: a.sigma })),
  ];
  return events.sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts)).slice(-limit);
}

/** ingested_at - ts per minute over the last `minutes` of event time. */
export async function ingestDelay(db: SqlSession, minutes: number): Promise<DelayPoint[]> {
  const { rows } = await db.query<{ minute_ms: number; avg_s: number; max_s: number; samples: number }>(
    `SELECT ${ms(`date_trunc('minute', ts)`)} AS minute_ms,
            avg(extract(epoch FROM ingested_at - ts))::float8 AS avg_s,
            max(extract(epoch FROM ingested_at - ts))::float8 AS max_s,
            sum(sample_count)::float8 AS samples
       FROM telemetry_events
      WHERE ts >= (SELECT max(ts) FROM telemetry_events) - make_interval(mins => $1::integer)
      GROUP BY 1 ORDER BY 1`,
    [minutes],
  );
  return rows.map((r) => [r.minute_ms, r.avg_s, r.max_s, r.samples]);
}
