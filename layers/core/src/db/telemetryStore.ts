import type { MergedRow } from '../merge.ts';
import { numericOf } from '../merge.ts';
import type { Rows } from './session.ts';
import { chunkRows, jsonLiteral } from './sqlText.ts';

export interface WriteCounts {
  inserted: number;
  duplicates: number;
}

const INSERT_TEMPLATE = `WITH ins AS (
  INSERT INTO telemetry_events
    (ts, source, fact_name, value_float, value_bool, value_str, sample_count, value_min, value_max, value_avg, event_id)
  SELECT r.t, r.s, r.f, r.n, r.b, r.x, r.c, r.lo, r.hi, r.av, r.id
  FROM json_to_recordset(%ROWS%::json) AS r(t timestamptz, s text, f text, n float8, b boolean, x text,
                                         c int, lo float8, hi float8, av float8, id text)
  ON CONFLICT (source, fact_name, ts) DO NOTHING
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
    lo: r.min ?? undefined,
    hi: r.max ?? undefined,
    av: r.avg ?? undefined,
    id: r.eventId,
  });
}

/** Idempotent inserts (a row whose key exists is skipped), each statement under the proxy's limit. */
export function insertTelemetryStatements(rows: readonly MergedRow[]): string[] {
  return chunkRows(rows.map(rowJson), TEMPLATE_BYTES).map((chunk) => HEAD + jsonLiteral(chunk) + TAIL);
}

/** Reads the results of `insertTelemetryStatements`: inserted rows, and the rest as duplicates. */
export function writeCounts(rows: readonly MergedRow[], results: readonly Rows[]): WriteCounts {
  const inserted = results.reduce((a, r) => a + Number((r[0] as { inserted?: number } | undefined)?.inserted ?? 0), 0);
  return { inserted, duplicates: rows.length - inserted };
}
