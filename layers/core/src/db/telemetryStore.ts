import type { MinuteLookup, StoredIdentities } from '../ingest/store.ts';
import { decodeSamples, fingerprint, seriesKey } from '../reading.ts';
import type { FactValue } from '../record.ts';
import type { Rows } from './session.ts';
import { recordset, rowStatements } from './recordset.ts';

// Rows go in by COPY (telemetryCopy.ts); this module reads the identities stored where a batch
// has resent or late readings.
const LOOKUP = recordset({ source: 's text', fact_name: 'f text', minute_us: 'b int8', lo_us: 'lo int8', hi_us: 'hi int8' });

// The unique index (source, fact_name, ts) answers each minute with a range scan. Merged rows of
// the minute are all read (their samples may be anywhere in it); single-sample rows only where a
// candidate is, as raw mode has thousands of them per minute.
// Epoch microseconds -> timestamptz, exactly (below 2^53 the interval product is exact).
const AT = (us: string) => `(timestamptz 'epoch' + ${us} * interval '1 microsecond')`;
const lookup = (literal: string) => `SELECT q.source, q.fact_name, q.minute_us, (extract(epoch FROM e.ts) * 1000000)::int8 AS ts_us,
       e.event_id, e.value_float, e.value_bool, e.value_str, encode(e.samples, 'base64') AS samples
  FROM ${LOOKUP.from(literal)} q
  JOIN telemetry_events e ON e.source = q.source AND e.fact_name = q.fact_name
   AND e.ts >= ${AT('q.minute_us')} AND e.ts < ${AT('q.minute_us')} + interval '1 minute'
   AND (e.samples IS NOT NULL OR e.ts BETWEEN ${AT('q.lo_us')} AND ${AT('q.hi_us')})`;

/** Reads the identities stored in the given minutes (see migration 0005 for the sample format). */
export function lookupIdentitiesStatements(minutes: readonly MinuteLookup[]): string[] {
  const rows = minutes.map((m) => LOOKUP.row({ source: m.source, fact_name: m.fact, minute_us: m.minuteUs, lo_us: m.loUs, hi_us: m.hiUs }));
  return rowStatements(rows, lookup);
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
    if (!minute) stored.set(key, (minute = new Map<number, number>()));
    if (r.samples === null) minute.set(r.ts_us - r.minute_us, fingerprint(r.event_id, storedValue(r)));
    else for (const s of decodeSamples(Buffer.from(r.samples, 'base64'))) minute.set(s.offsetUs, s.fp);
  }
  return stored;
}
