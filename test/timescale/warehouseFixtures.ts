import type { SqlSession } from '#core/db/session';
import { chunk } from '#core/chunks';

/**
 * Telemetry for warehouse tests on both engines, shaped as the ingest writer stores it: merged
 * rows with sample_count and the batch's min/max/avg (so spikes inside a batch are visible),
 * booleans as value_float 0/1 + value_bool, states as value_str, cumulative packaging counters.
 */
export interface TelemetryRow {
  ts: string;
  source: string;
  fact_name: string;
  value_float: number | null;
  value_bool: boolean | null;
  value_str: string | null;
  sample_count: number;
  value_min: number | null;
  value_max: number | null;
  value_avg: number | null;
  event_id: string;
  /** numeric samples among sample_count; absent (NULL) as on rows written before the column existed */
  numeric_count?: number | null;
}

/** One raw row: no value, one sample, an event id from its key; `v` sets what the case needs. */
export function telemetryRow(source: string, fact: string, ts: string, v: Partial<TelemetryRow> = {}): TelemetryRow {
  return {
    ts,
    source,
    fact_name: fact,
    value_float: null,
    value_bool: null,
    value_str: null,
    sample_count: 1,
    value_min: null,
    value_max: null,
    value_avg: null,
    event_id: `${source}-${fact}-${ts}`,
    ...v,
  };
}

const STATES = ['idle', 'mashing', 'boiling', 'fermenting', 'cleaning'];

/** Deterministic (LCG) so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

export function generateTelemetry(o: { sources: string[]; from: Date; to: Date; stepSeconds: number; seed?: number }): TelemetryRow[] {
  const rnd = random(o.seed ?? 7);
  const rows: TelemetryRow[] = [];
  for (const source of o.sources) {
    let total = 0;
    let good = 0;
    for (let t = o.from.getTime(); t < o.to.getTime(); t += o.stepSeconds * 1000) {
      // jitter inside the step keeps ts unique per series while spreading rows over buckets
      const ts = new Date(t + Math.floor(rnd() * (o.stepSeconds * 1000 - 1))).toISOString();
      const id = `${source}-${ts}`;
      const count = 1 + Math.floor(rnd() * 4);
      const temps = Array.from({ length: count }, () => 60 + rnd() * 10);
      if (rnd() < 0.05) temps[0] = 95; // a spike merged away by last-write-wins, kept in value_max
      const last = temps.at(-1) ?? 60;
      rows.push({
        ts,
        source,
        fact_name: 'temperature_c',
        value_float: last,
        value_bool: null,
        value_str: null,
        sample_count: count,
        value_min: Math.min(...temps),
        value_max: Math.max(...temps),
        value_avg: temps.reduce((a, b) => a + b, 0) / count,
        event_id: `${id}-t`,
      });
      const pump = rnd() < 0.7;
      rows.push({
        ts,
        source,
        fact_name: 'pump_running',
        value_float: pump ? 1 : 0,
        value_bool: pump,
        value_str: null,
        sample_count: 1,
        value_min: pump ? 1 : 0,
        value_max: pump ? 1 : 0,
        value_avg: pump ? 1 : 0,
        event_id: `${id}-p`,
      });
      const state = STATES[Math.floor(rnd() * STATES.length)] ?? 'idle';
      rows.push({
        ts,
        source,
        fact_name: 'state',
        value_float: null,
        value_bool: null,
        value_str: state,
        sample_count: 1,
        value_min: null,
        value_max: null,
        value_avg: null,
        event_id: `${id}-s`,
      });
      const made = Math.floor(rnd() * 2 * o.stepSeconds); // ~60/min against an ideal of 120
      total += made;
      good += made - Math.floor(rnd() * 0.1 * made);
      for (const [fact, v] of [
        ['packaged_total', total],
        ['packaged_good', good],
      ] as const) {
        rows.push({
          ts,
          source,
          fact_name: fact,
          value_float: v,
          value_bool: null,
          value_str: null,
          sample_count: 1,
          value_min: v,
          value_max: v,
          value_avg: v,
          event_id: `${id}-${fact}`,
        });
      }
    }
  }
  return rows;
}

/** Inserts as the ingest writer does (json_to_recordset, ON CONFLICT DO NOTHING); returns rows inserted. */
export async function insertTelemetry(db: SqlSession, rows: readonly TelemetryRow[]): Promise<number> {
  let inserted = 0;
  for (const part of chunk(rows, { maxItems: 5_000 })) {
    const { rows: out } = await db.query<{ n: number }>(
      `WITH ins AS (
         INSERT INTO telemetry_events (ts, source, fact_name, value_float, value_bool, value_str, sample_count, value_min, value_max, value_avg,
           event_id, numeric_count)
         SELECT ts, source, fact_name, value_float, value_bool, value_str, sample_count, value_min, value_max, value_avg, event_id, numeric_count
         FROM json_to_recordset($1::json) AS r(ts timestamptz, source text, fact_name text, value_float float8, value_bool boolean,
           value_str text, sample_count int, value_min float8, value_max float8, value_avg float8, event_id text, numeric_count int)
         ON CONFLICT (source, fact_name, ts) DO NOTHING RETURNING 1)
       SELECT count(*)::int AS n FROM ins`,
      [JSON.stringify(part)],
    );
    inserted += out[0]?.n ?? 0;
  }
  return inserted;
}

// Rounded to 9 significant places: the engines may sum floats in different orders.
const r9 = (expr: string) => `round((${expr})::numeric, 9)::text`;
const isoUtc = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;

export type AggregateRow = Record<string, string | number | null>;

/**
 * The reference: one GROUP BY straight over the raw rows, for any bucket width, with the
 * documented definitions (docs/warehouse.md) written independently of the aggregates: n = the
 * row's numeric samples (numeric_count, or sample_count when a legacy row has a numeric value),
 * the counter rise with a window function over the bucket's readings.
 */
export async function directAggregate(db: SqlSession, width: string, sources: string[]): Promise<AggregateRow[]> {
  const { rows } = await db.query<AggregateRow>(
    `WITH e AS (
       SELECT *, date_bin(INTERVAL '${width}', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b, coalesce(value_avg, value_float) AS a,
              coalesce(numeric_count, CASE WHEN coalesce(value_avg, value_float) IS NOT NULL THEN sample_count ELSE 0 END) AS n
       FROM telemetry_events WHERE source = ANY ($1::text[])),
     readings AS (
       SELECT b, source, fact_name, value_float AS v, ts,
              lag(value_float) OVER (PARTITION BY source, fact_name, b ORDER BY ts) AS pv,
              lag(ts) OVER (PARTITION BY source, fact_name, b ORDER BY ts) AS pts
       FROM e WHERE value_float IS NOT NULL),
     rises AS (
       SELECT b, source, fact_name,
              sum(CASE WHEN pv IS NOT NULL AND v > pv AND ts - pts <= INTERVAL '1 hour' THEN v - pv ELSE 0 END) AS rise
       FROM readings GROUP BY 1, 2, 3)
     SELECT ${isoUtc('e.b')} AS bucket, e.source, e.fact_name,
            sum(sample_count)::int AS sample_count,
            sum(n)::int AS numeric_count,
            ${r9('sum(a * n)')} AS value_sum,
            ${r9('sum(a * n) / nullif(sum(n), 0)')} AS value_avg,
            ${r9('min(coalesce(value_min, value_float))')} AS value_min,
            ${r9('max(coalesce(value_max, value_float))')} AS value_max,
            ${r9('(array_agg(value_float ORDER BY ts DESC) FILTER (WHERE value_float IS NOT NULL))[1]')} AS last_value,
            (array_agg(value_str ORDER BY ts DESC))[1] AS last_str,
            ${isoUtc('max(ts)')} AS last_ts,
            ${r9('(array_agg(value_float ORDER BY ts) FILTER (WHERE value_float IS NOT NULL))[1]')} AS first_value,
            ${isoUtc('min(ts)')} AS first_ts,
            ${r9('min(r.rise)')} AS counter_rise
     FROM e LEFT JOIN rises r ON r.b = e.b AND r.source = e.source AND r.fact_name = e.fact_name
     GROUP BY e.b, e.source, e.fact_name ORDER BY 1, 2, 3`,
    [sources],
  );
  return rows;
}

/** The same columns read from a grain's table (continuous aggregate or rollup table). */
export async function storedAggregate(db: SqlSession, table: string, sources: string[]): Promise<AggregateRow[]> {
  const { rows } = await db.query<AggregateRow>(
    `SELECT ${isoUtc('bucket')} AS bucket, source, fact_name, sample_count::int AS sample_count, numeric_count::int AS numeric_count,
            ${r9('value_sum')} AS value_sum, ${r9('value_avg')} AS value_avg, ${r9('value_min')} AS value_min,
            ${r9('value_max')} AS value_max, ${r9('last_value')} AS last_value, last_str, ${isoUtc('last_ts')} AS last_ts,
            ${r9('first_value')} AS first_value, ${isoUtc('first_ts')} AS first_ts, ${r9('counter_rise')} AS counter_rise
     FROM ${table} WHERE source = ANY ($1::text[]) ORDER BY 1, 2, 3`,
    [sources],
  );
  return rows;
}

/**
 * The reference for the fact views' `increase`: every counter reading's rise over the series'
 * previous reading (a window over the whole series: a drop counts 0, over an hour apart counts 0),
 * summed per bucket.
 */
export async function directIncrease(db: SqlSession, width: string, source: string, fact: string): Promise<Array<{ bucket: string; increase: string }>> {
  const { rows } = await db.query<{ bucket: string; increase: string }>(
    `WITH readings AS (
       SELECT ts, value_float AS v, lag(value_float) OVER (ORDER BY ts) AS pv, lag(ts) OVER (ORDER BY ts) AS pts
       FROM telemetry_events WHERE source = $1 AND fact_name = $2 AND value_float IS NOT NULL)
     SELECT ${isoUtc(`date_bin(INTERVAL '${width}', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00')`)} AS bucket,
            ${r9("sum(CASE WHEN pv IS NOT NULL AND v > pv AND ts - pts <= INTERVAL '1 hour' THEN v - pv ELSE 0 END)")} AS increase
     FROM readings GROUP BY 1 ORDER BY 1`,
    [source, fact],
  );
  return rows;
}

/** `increase` per bucket as a fact view shows it. */
export async function viewIncrease(db: SqlSession, view: string, source: string, fact: string): Promise<Array<{ bucket: string; increase: string }>> {
  const { rows } = await db.query<{ bucket: string; increase: string }>(
    `SELECT ${isoUtc('bucket')} AS bucket, ${r9('increase')} AS increase FROM ${view} WHERE source = $1 AND fact_name = $2 ORDER BY 1`,
    [source, fact],
  );
  return rows;
}

/** Saves warehouse_retention (keep_days and dropped_before); the returned function puts it back. */
export async function saveRetention(db: SqlSession): Promise<() => Promise<void>> {
  const { rows } = await db.query('SELECT grain, keep_days, dropped_before FROM warehouse_retention');
  return async () => {
    await db.query(
      `UPDATE warehouse_retention r SET keep_days = s.keep_days, dropped_before = s.dropped_before
       FROM json_to_recordset($1::json) AS s (grain text, keep_days int, dropped_before timestamptz) WHERE r.grain = s.grain`,
      [JSON.stringify(rows)],
    );
  };
}

/** Every row of a table, ordered, for "a second run changes nothing" comparisons. */
export async function tableSnapshot(db: SqlSession, table: string, orderBy: string, columns = '*'): Promise<unknown[]> {
  const { rows } = await db.query(`SELECT ${columns} FROM ${table} ORDER BY ${orderBy}`);
  return rows;
}

export const hoursAgo = (h: number, from = Date.now()): Date => new Date(from - h * 3_600_000);

/**
 * Noon UTC `daysAgo` days before the day of `from`: a suite's fixed clock, so that "hours before
 * now" land on the same UTC days however long the suite runs and whenever it starts (a run across
 * midnight sees the same days). Rollup watermarks follow the server's clock, not this one.
 */
export const noonUtc = (daysAgo: number, from = Date.now()): Date => new Date((Math.floor(from / 86_400_000) - daysAgo) * 86_400_000 + 12 * 3_600_000);

/**
 * OEE scenario with round numbers, for one complete 5-minute interval starting at `start`:
 * unit A reports state (8 of 10 samples not idle -> availability 80 %), packaged_total rising by
 * 384 from its last value before the interval (performance 384 / (120/min x 5 min x 0.8) = 80 %),
 * packaged_good rising by 360 (quality 93.75 %): OEE 60 % = 360 good / 600 ideal.
 * Unit B reports no state, only pump_running merged rows averaging 0.5 (availability 50 %), and
 * no counters (performance and quality unknown).
 */
export function oeeScenario(a: string, b: string, start: Date): TelemetryRow[] {
  const at = (sec: number) => new Date(start.getTime() + sec * 1000).toISOString();
  const row = (source: string, fact: string, sec: number, v: Partial<TelemetryRow>): TelemetryRow =>
    telemetryRow(source, fact, at(sec), { event_id: `${source}-${fact}-${sec}`, ...v });
  const counter = (source: string, fact: string, sec: number, v: number) => row(source, fact, sec, { value_float: v, value_min: v, value_max: v, value_avg: v });
  const rows: TelemetryRow[] = [];
  for (let i = 0; i < 10; i++) rows.push(row(a, 'state', i * 30, { value_str: i < 2 ? 'idle' : 'fermenting' }));
  rows.push(counter(a, 'packaged_total', -20, 1_000), counter(a, 'packaged_good', -20, 900));
  for (let i = 1; i <= 4; i++) {
    rows.push(counter(a, 'packaged_total', i * 60, 1_000 + 96 * i), counter(a, 'packaged_good', i * 60, 900 + 90 * i));
  }
  for (let i = 0; i < 5; i++) {
    rows.push(row(b, 'pump_running', i * 60, { value_float: 1, value_bool: true, sample_count: 4, value_min: 0, value_max: 1, value_avg: 0.5 }));
  }
  return rows;
}

/** The start of the 5-minute interval `intervalsAgo` complete intervals before `now`. */
export function completeIntervalStart(intervalsAgo: number, now = new Date()): Date {
  const step = 5 * 60_000;
  return new Date(Math.floor(now.getTime() / step) * step - intervalsAgo * step);
}

/** Parquet TIMESTAMP(MICROS) back to the export's ISO text, keeping the microseconds. */
export function microsToIso(us: bigint): string {
  const ms = us / 1000n;
  return `${new Date(Number(ms)).toISOString().slice(0, 23)}${String(us % 1000n).padStart(3, '0')}Z`;
}

/** Column types for loading an export's CSV back through PostgreSQL's own COPY parser. */
const SQL_TYPE = { timestamp: 'timestamptz', text: 'text', double: 'float8', int: 'bigint', bool: 'boolean' } as const;
export const readbackDdl = (table: string, columns: ReadonlyArray<{ name: string; kind: keyof typeof SQL_TYPE }>): string =>
  `CREATE TABLE ${table} (${columns.map((c) => `${c.name} ${SQL_TYPE[c.kind]}`).join(', ')})`;
export const readbackSelect = (table: string, columns: ReadonlyArray<{ name: string; kind: keyof typeof SQL_TYPE }>): string =>
  `SELECT ${columns
    .map((c) => (c.kind === 'timestamp' ? `to_char(${c.name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${c.name}` : c.name))
    .join(', ')} FROM ${table}`;

/** Order-independent comparison of row sets. */
export const sortRows = <T>(rows: T[]): T[] => [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
