import type { MinuteLookup, StoredIdentities } from '../ingest/store.ts';
import { numericOf, type MergedRow } from '../merge.ts';
import { decodeSamples, fingerprint, seriesKey } from '../reading.ts';
import type { FactValue } from '../record.ts';
import type { Rows } from './session.ts';
import { chunkRows, jsonLiteral } from './sqlText.ts';

// Every row is new (ingest/plan.ts removed every stored identity, under the sources' locks), so
// there is no ON CONFLICT: a unique violation would mean a broken invariant, and it fails the
// batch (retried) instead of silently dropping readings.
const INSERT_TEMPLATE = `WITH ins AS (
  INSERT INTO telemetry_events
    (ts, source, fact_name, value_float, value_bool, value_str, sample_count, numeric_count, value_min, value_max, value_avg, event_id, samples)
  SELECT r.t, r.s, r.f, r.n, r.b, r.x, r.c, r.nc, r.lo, r.hi, r.av, r.id, decode(r.sm, 'base64')
  FROM json_to_recordset(%ROWS%::json) AS r(t timestamptz, s text, f text, n float8, b boolean, x text,
                                         c int, nc int, lo float8, hi float8, av float8, id text, sm text)
  RETURNING 1)
SELECT count(*)::int AS inserted FROM ins`;
// Concatenated, not String.replace: a replacement string would expand `$&` found in the data.
const [HEAD, TAIL] = INSERT_TEMPLATE.split('%ROWS%') as [string, string];
const TEMPLATE_BYTES = Buffer.byteLength(HEAD) + Buffer.byteLength(TAIL);

/**
 * Row shape by type: numbers -> value_float, booleans -> value_bool (and 0/1), strings -> value_str.
 * Null columns are left out (undefined is not serialised; json_to_recordset reads a missing key as
 * NULL): 13% less statement text and insert time in raw mode.
 */
function rowJson(r: MergedRow): string {
  return JSON.stringify({
    t: r.ts,
    s: r.source,
    f: r.fact,
    n: numericOf(r.value) ?? undefined,
    b: typeof r.value === 'boolean' ? r.value : undefined,
    x: typeof r.value === 'string' ? r.value : undefined,
    c: r.count,
    nc: r.numericCount,
    lo: r.min ?? undefined,
    hi: r.max ?? undefined,
    av: r.avg ?? undefined,
    id: r.eventId,
    sm: r.samples ?? undefined,
  });
}

/** Inserts, each statement under the proxy's limit (a row holds at most MAX_SAMPLES_PER_ROW samples). */
export function insertTelemetryStatements(rows: readonly MergedRow[]): string[] {
  return chunkRows(rows.map(rowJson), TEMPLATE_BYTES).map((chunk) => HEAD + jsonLiteral(chunk) + TAIL);
}

export const insertedCount = (results: readonly Rows[]): number =>
  results.reduce((a, r) => a + Number((r[0] as { inserted?: number } | undefined)?.inserted ?? 0), 0);

const lookupJson = (m: MinuteLookup) =>
  `{"s":${JSON.stringify(m.source)},"f":${JSON.stringify(m.fact)},"b":${m.minuteUs},"lo":${m.loUs},"hi":${m.hiUs}}`;

const LOOKUP_HEAD = `SELECT q.s AS source, q.f AS fact_name, q.b AS minute_us, (extract(epoch FROM e.ts) * 1000000)::int8 AS ts_us,
       e.event_id, e.value_float, e.value_bool, e.value_str, encode(e.samples, 'base64') AS samples
  FROM json_to_recordset(`;
// The unique index (source, fact_name, ts) answers each minute with a range scan. Merged rows of
// the minute are all read (their samples may be anywhere in it); single-sample rows only where a
// candidate is, as raw mode has thousands of them per minute.
// Epoch microseconds -> timestamptz, exactly (below 2^53 the interval product is exact).
const AT = (us: string) => `(timestamptz 'epoch' + ${us} * interval '1 microsecond')`;
const LOOKUP_TAIL = `::json) AS q(s text, f text, b int8, lo int8, hi int8)
  JOIN telemetry_events e ON e.source = q.s AND e.fact_name = q.f
   AND e.ts >= ${AT('q.b')} AND e.ts < ${AT('q.b')} + interval '1 minute'
   AND (e.samples IS NOT NULL OR e.ts BETWEEN ${AT('q.lo')} AND ${AT('q.hi')})`;

/** Reads the identities stored in the given minutes (see migration 0005 for the sample format). */
export function lookupIdentitiesStatements(minutes: readonly MinuteLookup[]): string[] {
  return chunkRows(minutes.map(lookupJson), LOOKUP_HEAD.length + LOOKUP_TAIL.length).map((chunk) => LOOKUP_HEAD + jsonLiteral(chunk) + LOOKUP_TAIL);
}

type IdentityRow = {
  source: string;
  fact_name: string;
  minute_us: number;
  ts_us: number;
  event_id: string;
  value_float: number | null;
  value_bool: boolean | null;
  value_str: string | null;
  samples: string | null;
};

const storedValue = (r: IdentityRow): FactValue => r.value_bool ?? r.value_str ?? r.value_float ?? 0;

export function parseIdentities(results: readonly Rows[]): StoredIdentities {
  const stored: StoredIdentities = new Map();
  for (const r of results.flat() as IdentityRow[]) {
    const key = `${seriesKey(r.source, r.fact_name)}\u0000${r.minute_us}`;
    let minute = stored.get(key);
    if (!minute) stored.set(key, (minute = new Map()));
    if (r.samples === null) minute.set(r.ts_us - r.minute_us, fingerprint(r.event_id, storedValue(r)));
    else for (const s of decodeSamples(r.samples)) minute.set(s.offsetUs, s.fp);
  }
  return stored;
}
