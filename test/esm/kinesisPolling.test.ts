import { DescribeStreamSummaryCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { dataOf, kinesisMapping, latch, newStream, put, records, startEmulators, until, type Emulators } from '../helpers/esm.ts';

let emu: Emulators;
beforeAll(async () => {
  emu = await startEmulators();
});
afterAll(() => emu.stop());
afterEach(() => {
  vi.useRealTimers();
});

/** A service error as the SDK raises it, before its own retries (the middleware sits in front of them). */
const serviceError = (name: string) => Object.assign(new Error(name), { name, $fault: 'client', $metadata: {} });

describe('Kinesis polling', () => {
  it('replaces an expired shard iterator and reads on from where it was, without a gap or a repeat', async () => {
    // Prepare
    const stream = await newStream(emu);
    await put(emu, stream, records(2));
    const seen: string[] = [];
    // The clock jumps just before a GetRecords is sent, never while one is in flight: kinesalite
    // would then hand back a next iterator minted after the jump, which has not expired.
    const kinesis = emu.newKinesisClient();
    let jumpBeforeNextRead = false;
    kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        if (jumpBeforeNextRead && context.commandName === 'GetRecordsCommand') {
          jumpBeforeNextRead = false;
          vi.setSystemTime(Date.now() + 6 * 60_000);
        }
        return next(args);
      },
      { step: 'initialize', name: 'jumpTheClock' },
    );
    const { mapping } = await kinesisMapping({ ...emu, kinesis }, stream, async (e) => void seen.push(...e.Records.map(dataOf)));
    await mapping.start();
    await until('the first records', () => seen.length === 2);

    // Act: six minutes pass for kinesalite (it checks an iterator's age against Date.now, like Kinesis).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    jumpBeforeNextRead = true;
    await until('the clock jumped', () => !jumpBeforeNextRead);
    await put(emu, stream, records(2, 'k', 2));
    await until('the records put after the jump', () => seen.length === 4);
    await mapping.stop();

    // Assess
    expect(seen).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect([...mapping.shards.values()][0]?.iteratorRefreshes).toBeGreaterThanOrEqual(1);
  });

  it('retries throttled and failed GetRecords, GetShardIterator and ListShards calls with backoff', async () => {
    // Prepare: a client whose first calls of each kind fail the way Kinesis fails them.
    const stream = await newStream(emu);
    await put(emu, stream, records(5));
    const kinesis = emu.newKinesisClient();
    const failuresLeft: Record<string, string[]> = {
      ListShardsCommand: ['LimitExceededException'],
      GetShardIteratorCommand: ['InternalFailure'],
      GetRecordsCommand: ['ProvisionedThroughputExceededException', 'ProvisionedThroughputExceededException', 'InternalFailure'],
    };
    kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        const failure = failuresLeft[context.commandName ?? '']?.shift();
        if (failure) throw serviceError(failure);
        return next(args);
      },
      { step: 'initialize', name: 'injectKinesisFailures' },
    );
    const seen: string[] = [];
    const { mapping } = await kinesisMapping({ ...emu, kinesis }, stream, async (e) => void seen.push(...e.Records.map(dataOf)));

    // Act
    await mapping.start();
    await until('every record', () => seen.length === 5);
    await mapping.stop();
    kinesis.destroy();

    // Assess
    expect(seen).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(Object.values(failuresLeft).flat()).toEqual([]);
    expect([...mapping.shards.values()][0]?.readErrors).toBe(4);
  });

  it('follows a reshard: finds the child shards, and reads them only after the parent is fully processed', async () => {
    // Prepare: the parent's batch is held by the function while the shard splits and children fill.
    const stream = await newStream(emu);
    const [parent] = await put(emu, stream, records(3, 'p'));
    const release = latch();
    const log: Array<{ data: string; shardId: string }> = [];
    const { mapping } = await kinesisMapping(emu, stream, async (e) => {
      if (e.Records.some((r) => dataOf(r).startsWith('r') && r.eventID.startsWith(parent!.shardId))) await release.promise;
      for (const r of e.Records) log.push({ data: dataOf(r), shardId: r.eventID.split(':')[0]! });
    });
    await mapping.start();
    await until('the parent batch is in flight', () => mapping.shards.get(parent!.shardId)?.inFlight === 1);

    // Act
    await emu.kinesis.send(new SplitShardCommand({ StreamName: stream.name, ShardToSplit: parent!.shardId, NewStartingHashKey: (2n ** 127n).toString() }));
    await until('the stream is active again', async () => {
      const s = await emu.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream.name }));
      return s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
    });
    const children = await put(emu, stream, [
      { partitionKey: 'a', data: 'c0', explicitHashKey: '1' },
      { partitionKey: 'b', data: 'c1', explicitHashKey: (2n ** 127n + 1n).toString() },
    ]);
    await until('both children are known', () => mapping.shards.size === 3);
    const childStates = children.map((c) => mapping.shards.get(c.shardId)?.state);
    release.open();
    await until('the children are read', () => log.length === 5);
    await mapping.stop();

    // Assess
    expect(new Set(children.map((c) => c.shardId)).size).toBe(2);
    expect(childStates).toEqual(['waiting', 'waiting']);
    expect(log.slice(0, 3)).toEqual(['r0', 'r1', 'r2'].map((data) => ({ data, shardId: parent!.shardId })));
    expect(
      log
        .slice(3)
        .map((l) => l.data)
        .sort(),
    ).toEqual(['c0', 'c1']);
    expect(mapping.shards.get(parent!.shardId)?.state).toBe('ended');
  });
});
