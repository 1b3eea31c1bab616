/**
 * The KPL aggregated record format (amazon-kinesis-producer, aggregation-format.md): 4 magic bytes,
 * the protobuf `AggregatedRecord`, then the 16-byte MD5 of the protobuf bytes.
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags = 4; }
 *   message Tag { required string key = 1; optional string value = 2; }
 */
export const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
export const KPL_DIGEST_BYTES = 16;

/** One record as its producer put it: what an aggregate holds, and what deaggregation gives back. */
export interface UserRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Uint8Array;
}

/** Protobuf wire types used by the format. */
export const WIRE_VARINT = 0;
export const WIRE_LENGTH_DELIMITED = 2;

/** Field keys (field number << 3 | wire type) as they appear on the wire. */
export const KEY = {
  partitionKeyTable: (1 << 3) | WIRE_LENGTH_DELIMITED,
  explicitHashKeyTable: (2 << 3) | WIRE_LENGTH_DELIMITED,
  records: (3 << 3) | WIRE_LENGTH_DELIMITED,
  partitionKeyIndex: (1 << 3) | WIRE_VARINT,
  explicitHashKeyIndex: (2 << 3) | WIRE_VARINT,
  data: (3 << 3) | WIRE_LENGTH_DELIMITED,
} as const;
