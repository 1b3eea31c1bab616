import fc from 'fast-check';
import type { KinesisStreamRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fromKinesisEvent } from '#core/ingest/streamRecord';

const kinesisRecord = (eventID: string): KinesisStreamRecord => ({
  kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'FBE_01', sequenceNumber: '1', data: '', approximateArrivalTimestamp: 0 },
  eventSource: 'aws:kinesis',
  eventVersion: '1.0',
  eventID,
  eventName: 'aws:kinesis:record',
  invokeIdentityArn: 'arn:aws:iam::000000000000:role/r',
  awsRegion: 'us-east-1',
  eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
});

describe('fromKinesisEvent', () => {
  it('takes each record its shard from its eventID, whatever shards the records before it came from', () => {
    // Shard ids that share prefixes and lengths, so a record's shard cannot be taken for the one before.
    const shard = fc.constantFrom('shardId-000000000000', 'shardId-000000000001', 'shardId-00000000000', 'shardId-0000000000001', 'a:b', '');
    fc.assert(
      fc.property(fc.array(fc.tuple(shard, fc.bigInt({ min: 0n, max: 10n ** 56n })), { maxLength: 40 }), (ids) => {
        const records = ids.map(([s, seq]) => fromKinesisEvent(kinesisRecord(`${s}:${seq}`)));
        expect(records.map((r) => r.shardId)).toEqual(ids.map(([s]) => (s === '' ? 'unknown-shard' : s)));
      }),
      { numRuns: 300 },
    );
  });
});
