import type { KinesisClient } from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deaggregate } from '#core/kpl/deaggregate';
import { putRecords } from '#core/producer';
import { startKinesis, type LocalKinesis } from '../../local/services/kinesis.ts';
import { createStream, emulatorClient, readWholeStream } from '../helpers/kinesis.ts';

let emulator: LocalKinesis;
let kinesis: KinesisClient;
let streams = 0;

beforeAll(async () => {
  emulator = await startKinesis();
  kinesis = emulatorClient(emulator.endpoint);
});

afterAll(async () => {
  kinesis?.destroy();
  await emulator?.stop();
});

// Kinesis partition keys: 1 to 256 Unicode characters.
const partitionKey = fc.oneof(fc.constantFrom('FBE_01', 'FBE_02', 'FBE_03'), fc.string({ unit: 'binary', minLength: 1, maxLength: 256 }));
const userRecords = fc.array(fc.record({ partitionKey, data: fc.uint8Array({ maxLength: 2_000 }) }), { minLength: 1, maxLength: 300 });

describe('aggregated records through kinesalite', () => {
  it('reads back, by GetRecords and deaggregation, exactly the user records put, each key in order on one shard', async () => {
    await fc.assert(
      fc.asyncProperty(userRecords, fc.integer({ min: 1, max: 3 }), async (input, shards) => {
        // Prepare
        const stream = `kpl-${++streams}`;
        await createStream(kinesis, stream, shards);

        // Act: the real SDK client, small requests so that one put spans several PutRecords calls
        const result = await putRecords(kinesis, stream, input, { aggregate: true, maxRecordsPerRequest: 3 });
        const stored = await readWholeStream(kinesis, stream);

        // Assess
        expect(result).toMatchObject({ sent: input.length, failed: [], kinesisRecords: stored.length });
        const read = new Map<string, string[]>();
        const shardOf = new Map<string, Set<string>>();
        for (const record of stored) {
          const d = deaggregate(Buffer.from(record.data));
          if (d.kind !== 'aggregate') throw new Error(`stored record is ${d.kind}`);
          for (const u of d.records) {
            expect(u.partitionKey).toBe(record.partitionKey);
            read.set(u.partitionKey, [...(read.get(u.partitionKey) ?? []), u.data.toString('hex')]);
            shardOf.set(u.partitionKey, (shardOf.get(u.partitionKey) ?? new Set()).add(record.shardId));
          }
        }
        const put = new Map<string, string[]>();
        for (const r of input) put.set(r.partitionKey, [...(put.get(r.partitionKey) ?? []), Buffer.from(r.data).toString('hex')]);
        expect(read).toEqual(put);
        for (const s of shardOf.values()) expect(s.size).toBe(1);
      }),
      { numRuns: 12 },
    );
  });
});
