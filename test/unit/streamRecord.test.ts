import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromKinesisEvent } from '#core/ingest/streamRecord';
import { kinesisEvent } from '../../local/events/kinesisEvent.ts';

describe('fromKinesisEvent', () => {
  it('takes each record its shard from its eventID, whatever shards the records before it came from', () => {
    // Shard ids that share prefixes and lengths, so a record's shard cannot be taken for the one before.
    const shard = fc.constantFrom('shardId-000000000000', 'shardId-000000000001', 'shardId-00000000000', 'shardId-0000000000001', 'a:b', '');
    fc.assert(
      fc.property(fc.array(fc.tuple(shard, fc.bigInt({ min: 0n, max: 10n ** 56n })), { maxLength: 40 }), (ids) => {
        const records = ids.map(([shardId, firstSequence]) => fromKinesisEvent(kinesisEvent(['eA=='], { shardId, firstSequence }).Records[0]!));
        expect(records.map((r) => r.shardId)).toEqual(ids.map(([s]) => (s === '' ? 'unknown-shard' : s)));
      }),
      { numRuns: 300 },
    );
  });

  it('falls back to the last colon when the eventID does not end in the sequence number of its record', () => {
    fc.assert(
      fc.property(fc.constantFrom('shardId-000000000000', 'shardId-1'), fc.stringMatching(/^[0-9]{1,60}$/), fc.stringMatching(/^[0-9]{1,60}$/), (shardId, inId, sequenceNumber) => {
        const [record] = kinesisEvent(['eA==']).Records;
        const r = fromKinesisEvent({ ...record!, eventID: `${shardId}:${inId}`, kinesis: { ...record!.kinesis, sequenceNumber } });
        expect(r.shardId).toBe(shardId);
      }),
      { numRuns: 300 },
    );
  });
});
