import { numericOf, type MergedRow } from '#core/merge';

/** Columns of telemetry_events in the order copyText writes them. */
export const COPY_COLUMNS = '(ts, source, fact_name, value_float, value_bool, value_str, sample_count, value_min, value_max, value_avg, event_id)';

const NULL = '\\N';

/** COPY text format escapes backslash, tab, newline and carriage return inside a value. */
export function copyField(value: string | number | boolean | null): string {
  if (value === null) return NULL;
  if (typeof value !== 'string') return String(value);
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Rows as COPY ... FROM STDIN text, typed like the ingest writer (numbers, booleans as 0/1, strings). */
export function copyText(rows: readonly MergedRow[]): string {
  let out = '';
  for (const r of rows) {
    out +=
      [
        r.ts,
        r.source,
        r.fact,
        numericOf(r.value),
        typeof r.value === 'boolean' ? r.value : null,
        typeof r.value === 'string' ? r.value : null,
        r.count,
        r.min,
        r.max,
        r.avg,
        r.eventId,
      ]
        .map(copyField)
        .join('\t') + '\n';
  }
  return out;
}
