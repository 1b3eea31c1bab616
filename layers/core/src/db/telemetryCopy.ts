import type { MergedRow } from '../merge.ts';
import { numericOf } from '../record.ts';

/**
 * telemetry_events rows in PostgreSQL's binary COPY format. COPY is the fastest way in (no SQL
 * text to parse, no JSON, no escaping), its data travels in CopyData messages rather than as
 * statement text (RDS Proxy's 16 KB pinning threshold is about statements, and COPY does not pin
 * once it completes), and binary carries the sample identities as raw bytes instead of base64.
 * Every row is new (ingest/plan.ts removed every stored identity under the sources' locks): a
 * unique violation means rows the sources' state does not know of, and fails the attempt; the batch
 * is rerun looking up every reading (ingest/ingestBatch.ts).
 */
export const TELEMETRY_COPY = `COPY telemetry_events
  (ts, source, fact_name, value_float, value_bool, value_str, sample_count, numeric_count, value_min, value_max, value_avg, event_id, samples)
  FROM STDIN WITH (FORMAT binary)`;

const FIELDS = 13;
const COPY_HEADER = Buffer.from('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0', 'latin1');
const COPY_TRAILER = Buffer.from([0xff, 0xff]);
/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000;
const TWO_32 = 2 ** 32;

/** The whole COPY data (header, one tuple per row, trailer). */
export function telemetryCopyData(rows: readonly MergedRow[]): Buffer {
  return copyData(rows, true, true);
}

/** COPY data in chunks as the rows come: the header with the first, the trailer after the last. */
export async function* telemetryCopyChunks(rows: AsyncIterable<readonly MergedRow[]>): AsyncGenerator<Buffer> {
  let first = true;
  for await (const chunk of rows) {
    yield copyData(chunk, first, false);
    first = false;
  }
  yield first ? copyData([], true, true) : COPY_TRAILER;
}

/** One tuple per row, after the header and before the trailer where asked. */
function copyData(rows: readonly MergedRow[], header: boolean, trailer: boolean): Buffer {
  // An upper bound of the size, so the rows are written in one pass: UTF-8 takes at most three
  // bytes per UTF-16 unit. Measuring each text first cost a third of the encoding.
  let size = (header ? COPY_HEADER.length : 0) + (trailer ? COPY_TRAILER.length : 0);
  for (const r of rows) {
    // field count + 13 lengths + fixed-width values (ts 8, 4 float8 of 8, bool 1, 2 int4 of 4)
    size += 2 + FIELDS * 4 + 8 + 4 * 8 + 1 + 8 + 3 * (r.source.length + r.fact.length + r.eventId.length);
    if (typeof r.value === 'string') size += 3 * r.value.length;
    if (r.samples !== null) size += r.samples.length;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = header ? COPY_HEADER.copy(buf, 0) : 0;
  const nul = () => (at = buf.writeInt32BE(-1, at));
  const float8 = (x: number | null) => (x === null ? nul() : ((at = buf.writeInt32BE(8, at)), (at = buf.writeDoubleBE(x, at))));
  const text = (s: string) => {
    const n = buf.write(s, at + 4, 'utf8');
    buf.writeInt32BE(n, at);
    at += 4 + n;
  };
  for (const r of rows) {
    at = buf.writeInt16BE(FIELDS, at);
    // timestamptz: int64 microseconds since 2000-01-01 UTC, written as two 32-bit halves.
    const pgUs = r.tsUs - PG_EPOCH_US;
    const hi = Math.floor(pgUs / TWO_32);
    at = buf.writeInt32BE(8, at);
    at = buf.writeInt32BE(hi, at);
    at = buf.writeUInt32BE(pgUs - hi * TWO_32, at);
    text(r.source);
    text(r.fact);
    float8(numericOf(r.value));
    if (typeof r.value === 'boolean') {
      at = buf.writeInt32BE(1, at);
      at = buf.writeUInt8(r.value ? 1 : 0, at);
    } else nul();
    if (typeof r.value === 'string') text(r.value);
    else nul();
    at = buf.writeInt32BE(4, at);
    at = buf.writeInt32BE(r.count, at);
    at = buf.writeInt32BE(4, at);
    at = buf.writeInt32BE(r.numericCount, at);
    float8(r.min);
    float8(r.max);
    float8(r.avg);
    text(r.eventId);
    if (r.samples === null) nul();
    else {
      at = buf.writeInt32BE(r.samples.length, at);
      at += r.samples.copy(buf, at);
    }
  }
  if (trailer) at += COPY_TRAILER.copy(buf, at);
  return buf.subarray(0, at);
}
