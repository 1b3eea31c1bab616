import { hash } from 'node:crypto';
import { KPL_DIGEST_BYTES, KPL_MAGIC, type UserRecord } from './format.ts';

/**
 * Why an aggregate is refused whole:
 * - `too_short`: the magic bytes, but no room for a digest after them;
 * - `bad_md5`: the digest does not match the protobuf bytes (damaged in transit or by the producer);
 * - `bad_protobuf`: the digest matches but the bytes are not an `AggregatedRecord` (truncated varint,
 *   length past the end, wrong wire type for a known field, missing required field, key not UTF-8);
 * - `bad_key_index`: a record names a partition or explicit hash key the tables do not have;
 * - `no_records`: a well-formed aggregate holding no record at all (no producer writes one, so it
 *   is set aside to be looked at instead of vanishing from the accounting).
 */
export const CORRUPT_REASONS = ['too_short', 'bad_md5', 'bad_protobuf', 'bad_key_index', 'no_records'] as const;
export type CorruptReason = (typeof CORRUPT_REASONS)[number];

export interface DeaggregatedRecord extends UserRecord {
  /** A view into the aggregate's bytes (no copy). */
  data: Buffer;
}

export type Deaggregated =
  /** Not an aggregate: the Kinesis record is one user record. */
  | { kind: 'plain' }
  /** The user records in aggregate order: record i has sub-sequence number i. */
  | { kind: 'aggregate'; records: DeaggregatedRecord[] }
  | { kind: 'corrupt'; reason: CorruptReason; detail: string };

/**
 * Unpack a Kinesis record's data. Pure and total: every input gives a value, none throws.
 *
 * Data without the magic prefix is a plain record. With it, the record is an aggregate or corrupt,
 * never a plain record: the KCL falls back to "plain" on a bad digest, but the magic bytes are not
 * valid UTF-8, so such a record could never pass as a reading anyway, and its true reason is kept.
 * Parsing follows proto2 as the KPL defines the message: unknown fields are skipped, the last
 * value of a repeated singular field wins, required fields must be present.
 */
export function deaggregate(data: Buffer): Deaggregated {
  if (!hasMagic(data)) return { kind: 'plain' };
  if (data.length < KPL_MAGIC.length + KPL_DIGEST_BYTES) {
    return corrupt('too_short', `${data.length} bytes: the magic bytes leave no room for the ${KPL_DIGEST_BYTES}-byte digest`);
  }
  const end = data.length - KPL_DIGEST_BYTES;
  const message = data.subarray(KPL_MAGIC.length, end);
  if (!hash('md5', message, 'buffer').equals(data.subarray(end))) {
    return corrupt('bad_md5', `the MD5 of the ${message.length} protobuf bytes does not match the digest`);
  }
  try {
    return { kind: 'aggregate', records: parseAggregate(data, KPL_MAGIC.length, end) };
  } catch (e) {
    if (e instanceof Corrupt) return corrupt(e.reason, e.message);
    throw e;
  }
}

function hasMagic(data: Buffer): boolean {
  return data.length >= 4 && data[0] === KPL_MAGIC[0] && data[1] === KPL_MAGIC[1] && data[2] === KPL_MAGIC[2] && data[3] === KPL_MAGIC[3];
}

const corrupt = (reason: CorruptReason, detail: string): Deaggregated => ({ kind: 'corrupt', reason, detail });

/** Thrown inside the parser only; deaggregate turns it into a value. */
class Corrupt extends Error {
  constructor(
    readonly reason: CorruptReason,
    detail: string,
  ) {
    super(detail);
  }
}

/** Protobuf field numbers are 1 to 2^29 - 1. */
const MAX_FIELD_NUMBER = 2 ** 29 - 1;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Where the parser is: one per aggregate, positions are absolute offsets into `buf`. */
interface Cursor {
  buf: Buffer;
  pos: number;
}

interface RawRecord {
  partitionKeyIndex: number;
  explicitHashKeyIndex: number | undefined;
  data: Buffer;
}

function parseAggregate(buf: Buffer, start: number, end: number): DeaggregatedRecord[] {
  const c: Cursor = { buf, pos: start };
  const partitionKeys: string[] = [];
  const explicitHashKeys: string[] = [];
  const raw: RawRecord[] = [];
  while (c.pos < end) {
    const key = readVarint(c, end, 'field key');
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field >= 1 && field <= 3) {
      expectWire(wire, 2, field, 'AggregatedRecord');
      const len = readLength(c, end);
      const fieldEnd = c.pos + len;
      if (field === 1) partitionKeys.push(readString(c, fieldEnd, 'partition key'));
      else if (field === 2) explicitHashKeys.push(readString(c, fieldEnd, 'explicit hash key'));
      else raw.push(parseRecord(c, fieldEnd, raw.length));
    } else {
      skipField(c, end, field, wire);
    }
  }
  if (raw.length === 0) throw new Corrupt('no_records', 'the aggregate holds no record');
  return raw.map((r, i) => {
    const partitionKey = partitionKeys[r.partitionKeyIndex];
    if (partitionKey === undefined) {
      throw new Corrupt('bad_key_index', `record ${i}: partition key index ${r.partitionKeyIndex}, the table has ${partitionKeys.length}`);
    }
    if (r.explicitHashKeyIndex === undefined) return { partitionKey, data: r.data };
    const explicitHashKey = explicitHashKeys[r.explicitHashKeyIndex];
    if (explicitHashKey === undefined) {
      throw new Corrupt('bad_key_index', `record ${i}: explicit hash key index ${r.explicitHashKeyIndex}, the table has ${explicitHashKeys.length}`);
    }
    return { partitionKey, explicitHashKey, data: r.data };
  });
}

function parseRecord(c: Cursor, end: number, index: number): RawRecord {
  let partitionKeyIndex: number | undefined;
  let explicitHashKeyIndex: number | undefined;
  let data: Buffer | undefined;
  while (c.pos < end) {
    const key = readVarint(c, end, 'field key');
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 1) {
      expectWire(wire, 0, field, `record ${index}`);
      partitionKeyIndex = readVarint(c, end, 'partition key index');
    } else if (field === 2) {
      expectWire(wire, 0, field, `record ${index}`);
      explicitHashKeyIndex = readVarint(c, end, 'explicit hash key index');
    } else if (field === 3) {
      expectWire(wire, 2, field, `record ${index}`);
      const len = readLength(c, end);
      data = c.buf.subarray(c.pos, c.pos + len);
      c.pos += len;
    } else if (field === 4) {
      expectWire(wire, 2, field, `record ${index}`);
      const len = readLength(c, end);
      parseTag(c, c.pos + len, index);
    } else {
      skipField(c, end, field, wire);
    }
  }
  if (partitionKeyIndex === undefined) throw new Corrupt('bad_protobuf', `record ${index}: no partition_key_index (required)`);
  if (data === undefined) throw new Corrupt('bad_protobuf', `record ${index}: no data (required)`);
  return { partitionKeyIndex, explicitHashKeyIndex, data };
}

/** Tags are checked for shape and dropped: tapline routes nothing by them. */
function parseTag(c: Cursor, end: number, index: number): void {
  let hasKey = false;
  while (c.pos < end) {
    const key = readVarint(c, end, 'field key');
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 1 || field === 2) {
      expectWire(wire, 2, field, `record ${index} tag`);
      const len = readLength(c, end);
      readString(c, c.pos + len, 'tag');
      hasKey ||= field === 1;
    } else {
      skipField(c, end, field, wire);
    }
  }
  if (!hasKey) throw new Corrupt('bad_protobuf', `record ${index}: a tag without its key (required)`);
}

function expectWire(wire: number, expected: number, field: number, where: string): void {
  if (wire !== expected) throw new Corrupt('bad_protobuf', `${where}: field ${field} has wire type ${wire}, expected ${expected}`);
}

/**
 * A base-128 varint of at most 10 bytes (uint64). Values above 2^53 lose precision, which only
 * matters for indexes no table can have, and those are refused as out of range.
 */
function readVarint(c: Cursor, end: number, what: string): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= end) throw new Corrupt('bad_protobuf', `${what}: varint truncated at offset ${c.pos}`);
    const byte = c.buf[c.pos++] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
  throw new Corrupt('bad_protobuf', `${what}: varint longer than 10 bytes at offset ${c.pos}`);
}

function readLength(c: Cursor, end: number): number {
  const len = readVarint(c, end, 'length');
  if (len > end - c.pos) throw new Corrupt('bad_protobuf', `length ${len} at offset ${c.pos} runs past the end (${end - c.pos} bytes left)`);
  return len;
}

function readString(c: Cursor, end: number, what: string): string {
  const bytes = c.buf.subarray(c.pos, end);
  c.pos = end;
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Corrupt('bad_protobuf', `${what} is not valid UTF-8`);
  }
}

/** Unknown fields are skipped by their wire type, as protobuf readers do; groups (3, 4) are long deprecated and refused. */
function skipField(c: Cursor, end: number, field: number, wire: number): void {
  if (field === 0 || field > MAX_FIELD_NUMBER) throw new Corrupt('bad_protobuf', `field number ${field} at offset ${c.pos}`);
  if (wire === 0) readVarint(c, end, `field ${field}`);
  else if (wire === 2) {
    const len = readLength(c, end); // before the addition: it moves c.pos past the length itself
    c.pos += len;
  } else if (wire === 1 || wire === 5) {
    const width = wire === 1 ? 8 : 4;
    if (end - c.pos < width) throw new Corrupt('bad_protobuf', `field ${field}: fixed-width value truncated at offset ${c.pos}`);
    c.pos += width;
  } else throw new Corrupt('bad_protobuf', `field ${field}: unsupported wire type ${wire}`);
}
