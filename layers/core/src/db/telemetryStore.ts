import type { MinuteLookup, StoredIdentities } from '../ingest/store.ts';
import { decodeSamples, fingerprint, seriesKey } from '../reading.ts';
import type { FactValue } from '../record.ts';
import type { Rows } from './session.ts';
import { chunkRows, jsonLiteral } from './sqlText.ts';

// Rows go in by COPY (telemetryCopy.ts); this module reads the identities stored where a batch
// has resent or late readings.
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
    else for (const s of decodeSamples(Buffer.from(r.samples, 'base64'))) minute.set(s.offsetUs, s.fp);
  }
  return stored;
}
