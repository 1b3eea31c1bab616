import type { PutRecordsCommand, PutRecordsCommandOutput, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { deaggregate } from '#core/kpl/deaggregate';
import { putRecords, type PutEntry, type PutRecordsClient } from '#core/producer';

type Request = Array<{ data: string; partitionKey: string }>;
/** an answer per entry; undefined is a success */
type Respond = (request: Request, call: number) => Array<PutRecordsResultEntry | undefined>;

/** A Kinesis stand-in: records each request and answers entry by entry as the test says. */
class FakeKinesis implements PutRecordsClient {
  readonly requests: Request[] = [];
  constructor(private readonly respond: Respond = () => []) {}

  async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const request = (command.input.Records ?? []).map((r) => ({
      data: Buffer.from(r.Data ?? new Uint8Array()).toString('utf8'),
      partitionKey: r.PartitionKey ?? '',
    }));
    this.requests.push(request);
    const answers = this.respond(request, this.requests.length);
    const Records = request.map((_, i) => answers[i] ?? { SequenceNumber: `seq-${this.requests.length}-${i}`, ShardId: 'shardId-000000000000' });
    return { $metadata: {}, Records, FailedRecordCount: Records.filter((r) => r.ErrorCode).length };
  }
}

const throttled: PutRecordsResultEntry = { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' };
const entries = (n: number, prefix = 'r'): PutEntry[] => Array.from({ length: n }, (_, i) => ({ data: Buffer.from(`${prefix}${i}`), partitionKey: `FBE_0${(i % 9) + 1}` }));
const noWait = { sleep: async () => undefined, random: () => 0.5 };

describe('putRecords', () => {
  it('splits a large put into requests of at most 500 records', async () => {
    // Prepare
    const kinesis = new FakeKinesis();

    // Act
    const result = await putRecords(kinesis, 'stream', entries(1_201), noWait);

    // Assess
    expect(kinesis.requests.map((r) => r.length)).toEqual([500, 500, 201]);
    expect(result).toEqual({ sent: 1_201, failed: [], kinesisRecords: 1_201, retries: 0, throttled: 0 });
  });

  it('splits requests so that none exceeds 5 MiB of data and partition keys', async () => {
    // Prepare: 1,000,000 bytes each, so five fit in 5 MiB and a sixth does not
    const kinesis = new FakeKinesis();
    const big = Array.from({ length: 12 }, (_, i) => ({ data: new Uint8Array(1_000_000).fill(65 + i), partitionKey: 'FBE_01' }));

    // Act
    const result = await putRecords(kinesis, 'stream', big, noWait);

    // Assess
    expect(kinesis.requests.map((r) => r.length)).toEqual([5, 5, 2]);
    for (const request of kinesis.requests) {
      const bytes = request.reduce((sum, e) => sum + Buffer.byteLength(e.data) + Buffer.byteLength(e.partitionKey), 0);
      expect(bytes).toBeLessThanOrEqual(5 * 1024 * 1024);
    }
    expect(result.sent).toBe(12);
  });

  it('resends only the entries that failed, matched by their position in the response', async () => {
    // Prepare: entries 1 and 3 are throttled on the first call only
    const kinesis = new FakeKinesis((_, call) => (call === 1 ? [undefined, throttled, undefined, throttled] : []));

    // Act
    const result = await putRecords(kinesis, 'stream', entries(5), noWait);

    // Assess
    expect(kinesis.requests[1]).toEqual([
      { data: 'r1', partitionKey: 'FBE_02' },
      { data: 'r3', partitionKey: 'FBE_04' },
    ]);
    expect(kinesis.requests).toHaveLength(2);
    expect(result).toEqual({ sent: 5, failed: [], kinesisRecords: 5, retries: 2, throttled: 2 });
  });

  it('reports what still fails after the last attempt with its error, and sends the rest', async () => {
    // Prepare: entry "r2" fails every time
    const kinesis = new FakeKinesis((request) => request.map((e) => (e.data === 'r2' ? { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal Service Failure' } : undefined)));

    // Act
    const result = await putRecords(kinesis, 'stream', entries(4), { ...noWait, maxAttempts: 3 });

    // Assess
    expect(kinesis.requests.map((r) => r.length)).toEqual([4, 1, 1]);
    expect(result).toEqual({
      sent: 3,
      failed: [{ index: 2, partitionKey: 'FBE_03', errorCode: 'InternalFailure', errorMessage: 'Internal Service Failure' }],
      kinesisRecords: 3,
      retries: 2,
      throttled: 0,
    });
  });

  it('waits a jittered, exponentially growing and capped time between attempts', async () => {
    // Prepare
    const sleeps: number[] = [];
    const kinesis = new FakeKinesis((request) => request.map(() => throttled));
    const jitter = [0.5, 1, 0.25, 1, 1, 1, 0.5];

    // Act
    const result = await putRecords(kinesis, 'stream', entries(1), {
      sleep: async (ms) => void sleeps.push(ms),
      random: () => jitter.shift() ?? 0,
    });

    // Assess: 8 attempts by default; waits are random x min(2000, 50 x 2^n), the last one capped
    expect(kinesis.requests).toHaveLength(8);
    expect(sleeps).toEqual([25, 100, 50, 400, 800, 1_600, 1_000]);
    expect(result.failed).toEqual([{ index: 0, partitionKey: 'FBE_01', errorCode: throttled.ErrorCode, errorMessage: throttled.ErrorMessage }]);
    expect(result.throttled).toBe(8);
    expect(result.retries).toBe(7);
  });

  it('retries a whole request that failed on the network, then sends everything', async () => {
    // Prepare
    let calls = 0;
    const flaky: PutRecordsClient = {
      send: async (command) => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        return new FakeKinesis().send(command);
      },
    };

    // Act
    const result = await putRecords(flaky, 'stream', entries(3), noWait);

    // Assess
    expect(calls).toBe(2);
    expect(result).toEqual({ sent: 3, failed: [], kinesisRecords: 3, retries: 3, throttled: 0 });
  });

  it("does not retry a request the service refused as the caller's fault, and reports every entry", async () => {
    // Prepare
    let calls = 0;
    const missing: PutRecordsClient = {
      send: async () => {
        calls += 1;
        throw Object.assign(new Error('Stream nope not found'), { name: 'ResourceNotFoundException', $fault: 'client' });
      },
    };

    // Act
    const result = await putRecords(missing, 'nope', entries(2), noWait);

    // Assess
    expect(calls).toBe(1);
    expect(result.sent).toBe(0);
    expect(result.failed.map((f) => [f.index, f.errorCode])).toEqual([
      [0, 'ResourceNotFoundException'],
      [1, 'ResourceNotFoundException'],
    ]);
  });
});

/** Keeps every request's raw entries; answers entry by entry as the test says. */
class AggregateKinesis implements PutRecordsClient {
  readonly requests: Array<Array<{ data: Buffer; partitionKey: string; explicitHashKey?: string }>> = [];
  constructor(private readonly respond: (request: AggregateKinesis['requests'][number], call: number) => Array<PutRecordsResultEntry | undefined> = () => []) {}

  async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const request = (command.input.Records ?? []).map((r) => ({
      data: Buffer.from(r.Data ?? new Uint8Array()),
      partitionKey: r.PartitionKey ?? '',
      ...(r.ExplicitHashKey === undefined ? {} : { explicitHashKey: r.ExplicitHashKey }),
    }));
    this.requests.push(request);
    const answers = this.respond(request, this.requests.length);
    return { $metadata: {}, Records: request.map((_, i) => answers[i] ?? { SequenceNumber: `seq-${i}`, ShardId: 'shardId-000000000000' }) };
  }
}

/** The user records a put Kinesis record carries, as text. */
const unpack = (data: Buffer): string[] => {
  const d = deaggregate(data);
  if (d.kind !== 'aggregate') throw new Error(`not an aggregate: ${d.kind}`);
  return d.records.map((r) => `${r.partitionKey}:${r.data.toString('utf8')}`);
};
// 30 entries, keys FBE_01..FBE_03 in turn
const mixed = Array.from({ length: 30 }, (_, i) => ({ data: Buffer.from(`r${i}`), partitionKey: `FBE_0${(i % 3) + 1}` }));

describe('putRecords with aggregate', () => {
  it('puts one aggregated Kinesis record per partition key and reports the entries one by one', async () => {
    // Prepare
    const kinesis = new AggregateKinesis();

    // Act
    const result = await putRecords(kinesis, 'stream', mixed, { ...noWait, aggregate: true });

    // Assess
    expect(kinesis.requests).toHaveLength(1);
    expect(kinesis.requests[0]!.map((r) => r.partitionKey)).toEqual(['FBE_01', 'FBE_02', 'FBE_03']);
    for (const r of kinesis.requests[0]!) {
      expect(unpack(r.data)).toEqual(mixed.filter((e) => e.partitionKey === r.partitionKey).map((e) => `${e.partitionKey}:${e.data.toString('utf8')}`));
    }
    expect(result).toEqual({ sent: 30, failed: [], kinesisRecords: 3, retries: 0, throttled: 0 });
  });

  it('resends a throttled aggregate whole, and counts retries and throttling in Kinesis records', async () => {
    // Prepare: FBE_02's aggregate is throttled on the first call only
    const kinesis = new AggregateKinesis((request, call) => request.map((r) => (call === 1 && r.partitionKey === 'FBE_02' ? throttled : undefined)));

    // Act
    const result = await putRecords(kinesis, 'stream', mixed, { ...noWait, aggregate: true });

    // Assess
    expect(kinesis.requests[1]).toHaveLength(1);
    expect(kinesis.requests[1]![0]!.data.equals(kinesis.requests[0]![1]!.data)).toBe(true);
    expect(result).toEqual({ sent: 30, failed: [], kinesisRecords: 3, retries: 1, throttled: 1 });
  });

  it("reports every entry of an aggregate that still fails, by the entry's own index", async () => {
    // Prepare
    const kinesis = new AggregateKinesis((request) =>
      request.map((r) => (r.partitionKey === 'FBE_03' ? { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal Service Failure' } : undefined)),
    );

    // Act
    const result = await putRecords(kinesis, 'stream', mixed, { ...noWait, maxAttempts: 2, aggregate: true });

    // Assess
    expect(result.failed.map((f) => f.index)).toEqual([2, 5, 8, 11, 14, 17, 20, 23, 26, 29]);
    expect(result.failed.every((f) => f.partitionKey === 'FBE_03' && f.errorCode === 'InternalFailure')).toBe(true);
    expect(result).toMatchObject({ sent: 20, kinesisRecords: 2, retries: 1 });
  });

  it('passes an explicit hash key on to Kinesis, aggregated or not', async () => {
    // Prepare
    const entry = { data: Buffer.from('x'), partitionKey: 'FBE_01', explicitHashKey: '42' };
    const plain = new AggregateKinesis();
    const aggregated = new AggregateKinesis();

    // Act
    await putRecords(plain, 'stream', [entry], noWait);
    await putRecords(aggregated, 'stream', [entry], { ...noWait, aggregate: true });

    // Assess
    expect(plain.requests[0]).toEqual([{ data: Buffer.from('x'), partitionKey: 'FBE_01', explicitHashKey: '42' }]);
    expect(aggregated.requests[0]![0]).toMatchObject({ partitionKey: 'FBE_01', explicitHashKey: '42' });
    expect(unpack(aggregated.requests[0]![0]!.data)).toEqual(['FBE_01:x']);
  });
});
