import type { KinesisStreamRecord } from 'aws-lambda';
import type { UserRecord } from '../kpl/format.ts';

/** The fields of a Kinesis ESM record that ingest uses, flattened once. */
export interface StreamRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  approximateArrivalTimestamp: number;
  eventSourceARN: string;
  data: string;
}

/**
 * A user record unpacked from a KPL aggregate (kpl/deaggregate.ts): Lambda delivers the aggregate as
 * one Kinesis record; each user record has its own partition key and data, and is identified by the
 * aggregate's sequence number plus its position (the sub-sequence number).
 */
export interface SubRecord {
  subSequenceNumber: number;
  partitionKey: string;
  data: Uint8Array;
}

/** A user record of an aggregate and its position in it. */
export interface InAggregate {
  record: UserRecord;
  subSequenceNumber: number;
}

export const subRecordOf = ({ record, subSequenceNumber }: InAggregate): SubRecord => ({ subSequenceNumber, partitionKey: record.partitionKey, data: record.data });

export function fromKinesisEvent(r: KinesisStreamRecord): StreamRecord {
  // eventID is "<shardId>:<sequenceNumber>"; the shard is not carried anywhere else.
  const colon = r.eventID.lastIndexOf(':');
  return {
    shardId: colon > 0 ? shardOf(r.eventID, colon) : 'unknown-shard',
    sequenceNumber: r.kinesis.sequenceNumber,
    partitionKey: r.kinesis.partitionKey,
    approximateArrivalTimestamp: r.kinesis.approximateArrivalTimestamp,
    eventSourceARN: r.eventSourceARN,
    data: r.kinesis.data,
  };
}

let lastShard = '';

/**
 * The shard id before `colon`, as one string for a batch's records: a batch comes from one shard,
 * and a string sliced per record cost an allocation each and a comparison of its characters
 * wherever records are grouped by shard (checkpointStore.ts, highestPositions).
 */
function shardOf(eventID: string, colon: number): string {
  if (colon === lastShard.length && eventID.startsWith(lastShard)) return lastShard;
  return (lastShard = eventID.slice(0, colon));
}
