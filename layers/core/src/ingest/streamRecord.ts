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
  const { kinesis } = r;
  return {
    shardId: shardOf(r.eventID, kinesis.sequenceNumber),
    sequenceNumber: kinesis.sequenceNumber,
    partitionKey: kinesis.partitionKey,
    approximateArrivalTimestamp: kinesis.approximateArrivalTimestamp,
    eventSourceARN: r.eventSourceARN,
    data: kinesis.data,
  };
}

const COLON = 0x3a;
let lastShard = '';

/**
 * The shard of an eventID, "<shardId>:<sequenceNumber>" (the shard is not carried anywhere else),
 * as one string for a batch's records: a batch comes from one shard, and a string per record cost
 * an allocation each and a comparison of its characters wherever records are grouped by shard
 * (checkpointStore.ts, highestPositions). The colon is found from the sequence number's length:
 * searching for it (lastIndexOf) and startsWith each cost more than the rest of the record.
 */
function shardOf(eventID: string, sequenceNumber: string): string {
  const atSequence = eventID.length - sequenceNumber.length - 1;
  const colon = eventID.charCodeAt(atSequence) === COLON ? atSequence : eventID.lastIndexOf(':');
  if (colon <= 0) return 'unknown-shard';
  const shard = eventID.slice(0, colon);
  return shard === lastShard ? lastShard : (lastShard = shard);
}
