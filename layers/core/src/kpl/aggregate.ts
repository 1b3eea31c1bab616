import { hash } from 'node:crypto';
import { KEY, KPL_DIGEST_BYTES, KPL_MAGIC, type UserRecord } from './format.ts';

/**
 * The largest aggregate, counting its data and its partition key as Kinesis does: one PUT payload
 * unit (25 KiB), so an aggregate costs what a single small record costs, and far below the 1 MiB
 * record limit. A Lambda batch of them stays inside the 6 MB invocation payload at ~180 records.
 */
export const AGGREGATE_MAX_BYTES = 25 * 1024;

export interface Aggregate {
  /** The Kinesis record's partition key (and explicit hash key): those of every user record it holds. */
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
  /** Positions, in the input, of the user records it holds, in order (sub-sequence number = position here). */
  members: number[];
}

export interface AggregateOptions {
  /** Bound on data + partition key bytes of each aggregate (default AGGREGATE_MAX_BYTES). */
  maxBytes?: number;
}

interface Open {
  partitionKey: string;
  explicitHashKey: string | undefined;
  keyBytes: number;
  members: number[];
  /** Encoded size of the records field entries so far. */
  recordsBytes: number;
}

/**
 * Pack user records into KPL aggregates. Deterministic: the same input gives the same bytes.
 *
 * One aggregate holds the records of one partition key (and explicit hash key) only, in input
 * order, so the aggregate lands on the shard each of its records would have, and one source's
 * readings stay ordered on one shard, as they do unaggregated. An aggregate is closed when the next
 * record of its key would take it past `maxBytes`; a record too large for the bound alone gets an
 * aggregate of its own (it is never sent bare: a bare record whose data begins with the magic bytes
 * would be read as an aggregate). Aggregates come out in the order of their first record.
 */
export function aggregate(records: readonly UserRecord[], options: AggregateOptions = {}): Aggregate[] {
  const maxBytes = options.maxBytes ?? AGGREGATE_MAX_BYTES;
  const groups: Open[] = [];
  // The open aggregate of each partition key, per explicit hash key ('' for none: a real one is a decimal number).
  const current = new Map<string, Map<string, Open>>();
  records.forEach((record, index) => {
    const hashKey = record.explicitHashKey ?? '';
    let byKey = current.get(hashKey);
    if (!byKey) current.set(hashKey, (byKey = new Map<string, Open>()));
    const size = recordFieldBytes(record.data.byteLength, record.explicitHashKey !== undefined);
    let group = byKey.get(record.partitionKey);
    if (!group || aggregateBytes(group, group.recordsBytes + size) > maxBytes) {
      group = {
        partitionKey: record.partitionKey,
        explicitHashKey: record.explicitHashKey,
        keyBytes: Buffer.byteLength(record.partitionKey, 'utf8'),
        members: [],
        recordsBytes: 0,
      };
      groups.push(group);
      byKey.set(record.partitionKey, group);
    }
    group.members.push(index);
    group.recordsBytes += size;
  });
  return groups.map((g) => ({
    partitionKey: g.partitionKey,
    ...(g.explicitHashKey === undefined ? {} : { explicitHashKey: g.explicitHashKey }),
    data: encode(g, records),
    members: g.members,
  }));
}

/**
 * The data bytes of an aggregate of `count` records of `dataBytes` each under one partition key of
 * `keyBytes` (no explicit hash key): what the cost model prices, computed as aggregate() encodes.
 */
export function aggregateDataBytes(count: number, dataBytes: number, keyBytes: number): number {
  return KPL_MAGIC.length + lengthDelimitedBytes(keyBytes) + count * recordFieldBytes(dataBytes, false) + KPL_DIGEST_BYTES;
}

/** How many records of `dataBytes` one aggregate under a key of `keyBytes` holds within `maxBytes` (at least 1). */
export function recordsPerAggregate(dataBytes: number, keyBytes: number, maxBytes = AGGREGATE_MAX_BYTES): number {
  const fixed = aggregateDataBytes(0, dataBytes, keyBytes) + keyBytes;
  return Math.max(1, Math.floor((maxBytes - fixed) / recordFieldBytes(dataBytes, false)));
}

/** Bytes of the aggregate's data plus its partition key, with records fields of `recordsBytes`. */
function aggregateBytes(g: Open, recordsBytes: number): number {
  return KPL_MAGIC.length + tablesBytes(g) + recordsBytes + KPL_DIGEST_BYTES + g.keyBytes;
}

function tablesBytes(g: Open): number {
  const ehk = g.explicitHashKey === undefined ? 0 : lengthDelimitedBytes(Buffer.byteLength(g.explicitHashKey, 'utf8'));
  return lengthDelimitedBytes(g.keyBytes) + ehk;
}

/** Every record of a group uses index 0 of both tables (key and value, one byte each). */
const recordBodyBytes = (dataBytes: number, explicitHashKey: boolean): number => 2 + (explicitHashKey ? 2 : 0) + lengthDelimitedBytes(dataBytes);

const recordFieldBytes = (dataBytes: number, explicitHashKey: boolean): number => lengthDelimitedBytes(recordBodyBytes(dataBytes, explicitHashKey));

/** key byte + length varint + payload */
const lengthDelimitedBytes = (len: number): number => 1 + varintBytes(len) + len;

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** Fields in field-number order, as protobuf encoders (and aws-kinesis-agg) write them. */
function encode(g: Open, records: readonly UserRecord[]): Buffer {
  const messageBytes = tablesBytes(g) + g.recordsBytes;
  const out = Buffer.allocUnsafe(KPL_MAGIC.length + messageBytes + KPL_DIGEST_BYTES);
  let pos = KPL_MAGIC.copy(out, 0);
  const varint = (n: number) => {
    while (n >= 0x80) {
      out[pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    out[pos++] = n;
  };
  const text = (key: number, s: string) => {
    out[pos++] = key;
    varint(Buffer.byteLength(s, 'utf8'));
    pos += out.write(s, pos, 'utf8');
  };
  text(KEY.partitionKeyTable, g.partitionKey);
  if (g.explicitHashKey !== undefined) text(KEY.explicitHashKeyTable, g.explicitHashKey);
  for (const index of g.members) {
    const r = records[index] as UserRecord;
    out[pos++] = KEY.records;
    varint(recordBodyBytes(r.data.byteLength, r.explicitHashKey !== undefined));
    out[pos++] = KEY.partitionKeyIndex;
    out[pos++] = 0;
    if (r.explicitHashKey !== undefined) {
      out[pos++] = KEY.explicitHashKeyIndex;
      out[pos++] = 0;
    }
    out[pos++] = KEY.data;
    varint(r.data.byteLength);
    out.set(r.data, pos);
    pos += r.data.byteLength;
  }
  hash('md5', out.subarray(KPL_MAGIC.length, pos), 'buffer').copy(out, pos);
  return out;
}
