import type { KinesisStreamRecord } from 'aws-lambda';

/** The fields of a Kinesis ESM record that ingest uses, flattened once. */
export interface StreamRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  approximateArrivalTimestamp: number;
  eventSourceARN: string;
  data: string;
}

export function fromKinesisEvent(r: KinesisStreamRecord): StreamRecord {
  // eventID is "<shardId>:<sequenceNumber>"; the shard is not carried anywhere else.
  const colon = r.eventID.lastIndexOf(':');
  return {
    shardId: colon > 0 ? r.eventID.slice(0, colon) : 'unknown-shard',
    sequenceNumber: r.kinesis.sequenceNumber,
    partitionKey: r.kinesis.partitionKey,
    approximateArrivalTimestamp: r.kinesis.approximateArrivalTimestamp,
    eventSourceARN: r.eventSourceARN,
    data: r.kinesis.data,
  };
}
