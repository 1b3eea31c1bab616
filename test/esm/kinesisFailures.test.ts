import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidMappingError } from '../../local/esm/mappingSettings.ts';
import { bodies, dataOf, kinesisMapping, newStream, put, records, SHARD_HASH, startEmulators, until, type Emulators } from '../helpers/esm.ts';

let emu: Emulators;
beforeAll(async () => {
  emu = await startEmulators();
});
afterAll(() => emu.stop());

class FunctionError extends Error {}
const failures = (...itemIdentifiers: string[]) => ({ batchItemFailures: itemIdentifiers.map((itemIdentifier) => ({ itemIdentifier })) });
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('Kinesis partial batch responses', () => {
  it.each([
    ['', false],
    [' (with bisect on, the split is at that number)', true],
  ])('checkpoints at the lowest reported sequence number and delivers every record from it again%s', async (_, bisectOnError) => {
    // Prepare
    const stream = await newStream(emu);
    const seqs = (await put(emu, stream, records(10))).map((p) => p.sequenceNumber);
    const seen: string[][] = [];
    const { mapping } = await kinesisMapping(
      emu,
      stream,
      async (e) => {
        seen.push(e.Records.map(dataOf));
        return seen.length === 1 ? failures(seqs[6]!, seqs[3]!) : undefined;
      },
      { bisectOnError },
    );

    // Act
    await mapping.start();
    await until('the retry succeeded', () => mapping.shards.values().next().value?.done === 10);
    await mapping.stop();

    // Assess
    expect(seen).toEqual([records(10).map((r) => r.data), ['r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']]);
    expect([...mapping.shards.values()][0]?.checkpoint).toBe(seqs[9]);
  });

  it.each([
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a misnamed key', { batchItemFailures: [{ itemId: 'x' }] }],
    ['an entry without identifier', { batchItemFailures: [{}] }],
    ['a null entry', { batchItemFailures: [null] }],
    ['a list that is not a list', { batchItemFailures: 'r1' }],
    ['an identifier not in the batch', failures('49590338271490256608559692538361571095921575989136588898')],
    ['a response that is not an object', 'done'],
  ])('treats %s as a failure of the whole batch, and keeps polling', async (_, response) => {
    // Prepare
    const stream = await newStream(emu);
    await put(emu, stream, records(3));
    const seen: string[][] = [];
    const { mapping } = await kinesisMapping(emu, stream, async (e) => {
      seen.push(e.Records.map(dataOf));
      return seen.length === 1 ? response : undefined;
    });

    // Act
    await mapping.start();
    await until('the whole batch delivered again', () => seen.length === 2);
    await put(emu, stream, records(1, 'k', 3));
    await until('the next record', () => seen.flat().includes('r3'));
    await mapping.stop();

    // Assess
    expect(seen).toEqual([['r0', 'r1', 'r2'], ['r0', 'r1', 'r2'], ['r3']]);
  });

  it.each([
    ['no response', undefined],
    ['a null response', null],
    ['an empty response', {}],
    ['a null list', { batchItemFailures: null }],
    ['an empty list', { batchItemFailures: [] }],
  ])('treats %s as a full success', async (_, response) => {
    // Prepare
    const stream = await newStream(emu);
    const seqs = (await put(emu, stream, records(3))).map((p) => p.sequenceNumber);
    let invocations = 0;
    const { mapping } = await kinesisMapping(emu, stream, async () => {
      invocations++;
      return response;
    });

    // Act
    await mapping.start();
    await mapping.stop();

    // Assess
    expect(invocations).toBe(1);
    expect([...mapping.shards.values()][0]?.checkpoint).toBe(seqs[2]);
  });

  it('ignores a partial response unless ReportBatchItemFailures is on', async () => {
    // Prepare
    const stream = await newStream(emu);
    const seqs = (await put(emu, stream, records(3))).map((p) => p.sequenceNumber);
    let invocations = 0;
    const { mapping } = await kinesisMapping(
      emu,
      stream,
      async () => {
        invocations++;
        return failures(seqs[1]!);
      },
      { reportBatchItemFailures: false },
    );

    // Act
    await mapping.start();
    await mapping.stop();

    // Assess
    expect(invocations).toBe(1);
  });
});

describe('Kinesis mapping settings', () => {
  it.each([
    ['BatchSize 0', { batchSize: 0 }],
    ['BatchSize 10,001', { batchSize: 10_001 }],
    ['a window of 301 s', { batchWindowSeconds: 301 }],
    ['a window of half a second', { batchWindowSeconds: 0.5 }],
    ['ParallelizationFactor 11', { parallelizationFactor: 11 }],
    ['MaximumRetryAttempts 10,001', { maxRetryAttempts: 10_001 }],
    ['MaximumRecordAgeInSeconds 59', { maxRecordAgeSeconds: 59 }],
  ])('refuses %s, as CreateEventSourceMapping does', async (_, settings) => {
    const stream = await newStream(emu);
    await expect(kinesisMapping(emu, stream, async () => undefined, settings)).rejects.toThrow(InvalidMappingError);
  });
});

describe('Kinesis retries and discards', () => {
  it('bisects a failing batch, and a split is not a retry', async () => {
    // Prepare: one poison record among 8, no retries allowed: only splits can isolate it.
    const stream = await newStream(emu);
    const seqs = (await put(emu, stream, records(8))).map((p) => p.sequenceNumber);
    const sizes: number[] = [];
    const succeeded: string[] = [];
    const { mapping, onFailure } = await kinesisMapping(
      emu,
      stream,
      async (e) => {
        sizes.push(e.Records.length);
        if (e.Records.some((r) => dataOf(r) === 'r5')) throw new FunctionError('poison');
        succeeded.push(...e.Records.map(dataOf));
      },
      { bisectOnError: true, maxRetryAttempts: 0 },
    );

    // Act
    await mapping.start();
    await mapping.stop();

    // Assess: 8 -> 4 ok + 4 -> 2 -> 1 ok + 1 poison (its first failure alone exhausts 0 retries) -> 2 ok.
    expect(sizes).toEqual([8, 4, 4, 2, 1, 1, 2]);
    expect(succeeded.sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r6', 'r7']);
    const [message] = (await bodies(emu, onFailure)) as Array<{ requestContext: Record<string, unknown>; KinesisBatchInfo: Record<string, unknown> }>;
    expect(message?.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4 });
    expect(message?.KinesisBatchInfo).toMatchObject({ startSequenceNumber: seqs[5], endSequenceNumber: seqs[5], batchSize: 1 });
  });

  it('retries a failing batch MaximumRetryAttempts times, then sends its metadata (never its data) to OnFailure and moves on', async () => {
    // Prepare
    const stream = await newStream(emu);
    const placed = await put(emu, stream, records(3));
    let invocations = 0;
    const after: string[] = [];
    const { mapping, onFailure } = await kinesisMapping(
      emu,
      stream,
      async (e) => {
        if (e.Records.some((r) => dataOf(r) === 'r1')) {
          invocations++;
          throw new FunctionError('always');
        }
        after.push(...e.Records.map(dataOf));
      },
      { maxRetryAttempts: 2 },
    );

    // Act
    await mapping.start();
    await until('the batch is given up', () => mapping.shards.values().next().value?.discardedToOnFailure === 3);
    await put(emu, stream, records(1, 'k', 3));
    await mapping.stop();

    // Assess: 1 invocation + 2 retries; the OnFailure message is exactly AWS's invocation record.
    expect(invocations).toBe(3);
    expect(after).toEqual(['r3']);
    const messages = await bodies(emu, onFailure);
    expect(messages).toHaveLength(1);
    const m = messages[0] as Record<string, unknown>;
    expect(Object.keys(m).sort()).toEqual(['KinesisBatchInfo', 'requestContext', 'responseContext', 'timestamp', 'version']);
    expect(m).toEqual({
      requestContext: {
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:conformance',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(ISO),
      KinesisBatchInfo: {
        shardId: placed[0]!.shardId,
        startSequenceNumber: placed[0]!.sequenceNumber,
        endSequenceNumber: placed[2]!.sequenceNumber,
        approximateArrivalOfFirstRecord: expect.stringMatching(ISO),
        approximateArrivalOfLastRecord: expect.stringMatching(ISO),
        batchSize: 3,
        streamArn: stream.arn,
      },
    });
  });

  it('when partial responses exhaust the retries, reports that the function returned (no functionError)', async () => {
    // Prepare
    const stream = await newStream(emu);
    const seqs = (await put(emu, stream, records(3))).map((p) => p.sequenceNumber);
    const seen: string[][] = [];
    const { mapping, onFailure } = await kinesisMapping(
      emu,
      stream,
      async (e) => {
        seen.push(e.Records.map(dataOf));
        return failures(seqs[1]!);
      },
      { maxRetryAttempts: 1 },
    );

    // Act
    await mapping.start();
    await mapping.stop();

    // Assess: r0 is checkpointed; r1.. are retried once, then given up.
    expect(seen).toEqual([
      ['r0', 'r1', 'r2'],
      ['r1', 'r2'],
    ]);
    const [m] = (await bodies(emu, onFailure)) as Array<Record<string, Record<string, unknown>>>;
    expect(m?.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
    expect(m?.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
    expect(m?.KinesisBatchInfo).toMatchObject({ startSequenceNumber: seqs[1], endSequenceNumber: seqs[2], batchSize: 2 });
  });

  it('discards records older than MaximumRecordAgeInSeconds before invoking, with no response to report', async () => {
    // Prepare: the mapping's clock is 61 s ahead, so the records are already past a 60 s maximum age.
    const stream = await newStream(emu);
    const seqs = (await put(emu, stream, records(2))).map((p) => p.sequenceNumber);
    let invocations = 0;
    const { mapping, onFailure } = await kinesisMapping(emu, stream, async () => void invocations++, { maxRecordAgeSeconds: 60 }, { now: () => Date.now() + 61_000 });

    // Act
    await mapping.start();
    await mapping.stop();

    // Assess
    expect(invocations).toBe(0);
    const [m] = (await bodies(emu, onFailure)) as Array<Record<string, unknown>>;
    expect(m).not.toHaveProperty('responseContext');
    expect(m?.requestContext).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 0 });
    expect(m?.KinesisBatchInfo).toMatchObject({ startSequenceNumber: seqs[0], endSequenceNumber: seqs[1], batchSize: 2 });
  });

  it('discards records that age out while their batch is retried, after the function errors', async () => {
    // Prepare: unlimited retries, so only the age limit can end them.
    const stream = await newStream(emu);
    await put(emu, stream, records(2));
    let offsetMs = 0;
    let invocations = 0;
    const { mapping, onFailure } = await kinesisMapping(
      emu,
      stream,
      async () => {
        if (++invocations === 3) offsetMs = 61_000; // the records turn 61 s old during the third attempt
        throw new FunctionError('down');
      },
      { maxRecordAgeSeconds: 60 },
      { now: () => Date.now() + offsetMs },
    );

    // Act
    await mapping.start();
    await mapping.stop();

    // Assess
    expect(invocations).toBe(3);
    const [m] = (await bodies(emu, onFailure)) as Array<Record<string, unknown>>;
    expect(m?.requestContext).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 3 });
    expect(m?.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
  });

  it('a failing batch blocks its own shard only', async () => {
    // Prepare: two shards; the first holds a poison record the function fails on until healed.
    const stream = await newStream(emu, 2);
    const onFirst = (data: string) => ({ partitionKey: 'a', data, explicitHashKey: SHARD_HASH.first });
    const onSecond = (data: string) => ({ partitionKey: 'b', data, explicitHashKey: SHARD_HASH.second });
    await put(emu, stream, [onFirst('a0'), onFirst('poison'), onFirst('a2'), onSecond('b0'), onSecond('b1')]);
    let healed = false;
    let poisonFailures = 0;
    const delivered: string[] = [];
    const shardsPerBatch: number[] = [];
    const { mapping } = await kinesisMapping(emu, stream, async (e: KinesisStreamEvent) => {
      shardsPerBatch.push(new Set(e.Records.map((r) => r.eventID.split(':')[0])).size);
      const data = e.Records.map(dataOf);
      if (!healed && data.includes('poison')) {
        poisonFailures++;
        throw new FunctionError('poison');
      }
      delivered.push(...data);
    });

    // Act: the second shard keeps flowing, records put later included, while the first is stuck.
    await mapping.start();
    await until('the second shard processed', () => delivered.length === 2 && poisonFailures >= 3);
    await put(emu, stream, [onSecond('b2'), onFirst('a3')]);
    await until('the later record of the second shard', () => delivered.includes('b2') && poisonFailures >= 6);
    const whileBlocked = [...delivered];
    healed = true;
    await mapping.stop();

    // Assess: a batch never mixes shards; the second shard never waited for the first.
    expect(new Set(shardsPerBatch)).toEqual(new Set([1]));
    expect(whileBlocked).toEqual(['b0', 'b1', 'b2']);
    expect(delivered.filter((d) => d.startsWith('a') || d === 'poison')).toEqual(['a0', 'poison', 'a2', 'a3']);
  });
});
