import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { UserRecord } from '#core/kpl/format';

/**
 * aws-kinesis-agg (the maintained npm implementation of the KPL format, a devDependency) as the
 * reference the hand-written codec is tested against. Typed here: its own typings need aws-sdk v2.
 */
const require = createRequire(import.meta.url);

interface RefUserRecord {
  partitionKey: string;
  explicitPartitionKey?: string;
  data: string;
}
interface AggModule {
  deaggregateSync(
    record: { data: string; partitionKey: string; sequenceNumber: string },
    computeChecksums: boolean,
    done: (error: Error | null, records?: RefUserRecord[]) => void,
  ): void;
  RecordAggregator: new () => {
    addUserRecord(r: { partitionKey: string; explicitHashKey?: string; data: Buffer }): void;
    build(): { partitionKey: string; data: Buffer } | undefined;
  };
}
export interface RefMessage {
  partition_key_table: string[];
  explicit_hash_key_table: string[];
  records: Array<{ partition_key_index: number; explicit_hash_key_index?: number; data: Uint8Array; tags: Array<{ key: string; value?: string }> }>;
}
interface Codec {
  encode(m: RefMessage): { finish(): Uint8Array };
  decode(b: Uint8Array): {
    partition_key_table: string[];
    explicit_hash_key_table: string[];
    records: Array<{ partition_key_index: unknown; explicit_hash_key_index?: unknown; data: Uint8Array }>;
  };
}

const agg = require('aws-kinesis-agg') as AggModule;
const { AggregatedRecord } = require('aws-kinesis-agg/lib/common.js') as { AggregatedRecord: Codec };
const MAGIC = Buffer.from('f3899ac2', 'hex');

/** One aggregate of all `records`, mixed keys and all, by aws-kinesis-agg's RecordAggregator. */
export function referenceAggregate(records: readonly UserRecord[]): Buffer {
  const aggregator = new agg.RecordAggregator();
  for (const r of records) {
    aggregator.addUserRecord({ partitionKey: r.partitionKey, ...(r.explicitHashKey === undefined ? {} : { explicitHashKey: r.explicitHashKey }), data: Buffer.from(r.data) });
  }
  const built = aggregator.build();
  if (!built) throw new Error('aws-kinesis-agg built nothing');
  return built.data;
}

/** aws-kinesis-agg's deaggregateSync (checksums on): the user records, or the error it reports. */
export function referenceDeaggregate(
  data: Buffer,
): { ok: true; records: Array<{ partitionKey: string | undefined; explicitHashKey: string | undefined; data: Buffer }> } | { ok: false; error: string } {
  let outcome: ReturnType<typeof referenceDeaggregate> = { ok: false, error: 'no callback' };
  agg.deaggregateSync({ data: data.toString('base64'), partitionKey: 'parent', sequenceNumber: '1' }, true, (error, records) => {
    outcome = error
      ? { ok: false, error: error.message }
      : { ok: true, records: (records ?? []).map((r) => ({ partitionKey: r.partitionKey, explicitHashKey: r.explicitPartitionKey, data: Buffer.from(r.data, 'base64') })) };
  });
  return outcome;
}

/** Magic + protobufjs encoding of any message (tags, any table and index) + its MD5. */
export function referenceEncode(message: RefMessage): Buffer {
  return sign(Buffer.from(AggregatedRecord.encode(message).finish()));
}

/** Wrap protobuf bytes as an aggregate with a correct digest. */
export function sign(protobuf: Buffer): Buffer {
  return Buffer.concat([MAGIC, protobuf, createHash('md5').update(protobuf).digest()]);
}

/**
 * protobufjs's reading of the protobuf bytes, key indexes resolved against the tables (undefined when
 * out of range), or the error it throws. An absent explicit_hash_key_index is told from index 0 by
 * presence: protobufjs reads a missing optional field as its default, 0, and aws-kinesis-agg's
 * deaggregator therefore gives a record without an explicit hash key the table's first one.
 */
export function protobufjsDecode(
  protobuf: Buffer,
): { ok: true; records: Array<{ partitionKey: string | undefined; explicitHashKey: string | undefined; data: Buffer }> } | { ok: false; error: string } {
  try {
    const m = AggregatedRecord.decode(protobuf);
    const at = (table: string[], index: unknown) => table[Number(String(index))];
    return {
      ok: true,
      records: m.records.map((r) => ({
        partitionKey: at(m.partition_key_table, r.partition_key_index),
        explicitHashKey: Object.hasOwn(r, 'explicit_hash_key_index') ? at(m.explicit_hash_key_table, r.explicit_hash_key_index) : undefined,
        data: Buffer.from(r.data),
      })),
    };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}
