import type { PutRecordsCommand, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { deaggregate } from '#core/kpl/deaggregate';
import type { PutRecordsClient } from '#core/producer';
import { decodeRecord } from '#core/record';
import { runSimulation } from '#core/simulator/run';

/** Accepts everything, after a turn of the event loop, and remembers request sizes and overlap. */
class CountingKinesis implements PutRecordsClient {
  readonly sizes: number[] = [];
  inFlight = 0;
  maxInFlight = 0;

  async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const records = command.input.Records ?? [];
    this.sizes.push(records.length);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    await new Promise((ok) => setImmediate(ok));
    this.inFlight -= 1;
    return { $metadata: {}, Records: records.map((_, i) => ({ SequenceNumber: String(i), ShardId: 'shardId-000000000000' })) };
  }
}

/** A clock that only moves when the loop sleeps, by `stepMs` whatever was asked. */
function fakeClock(stepMs: number) {
  let now = Date.parse('2026-03-01T08:00:00.000Z');
  return { now: () => now, sleep: async () => void (now += stepMs) };
}

describe('simulation run', () => {
  it('catches up on late ticks and produces exactly rate x duration records', async () => {
    // Prepare: every 100 ms tick arrives 350 ms late
    const kinesis = new CountingKinesis();
    const clock = fakeClock(350);

    // Act
    const report = await runSimulation({ rate: 1_000, durationSeconds: 3, seed: 1 }, { client: kinesis, streamName: 's', remainingMs: () => 60_000, ...clock });

    // Assess
    expect(report).toMatchObject({ produced: 3_000, sent: 3_000, failed: 0, stoppedEarly: false });
    expect(kinesis.sizes.reduce((a, b) => a + b, 0)).toBe(3_000);
    expect(Math.max(...kinesis.sizes.slice(0, -1))).toBe(350);
  });

  it('keeps at most maxInFlight puts open at once', async () => {
    // Prepare
    const kinesis = new CountingKinesis();

    // Act
    const report = await runSimulation(
      { rate: 500, durationSeconds: 4, seed: 2 },
      { client: kinesis, streamName: 's', remainingMs: () => 60_000, maxInFlight: 2, ...fakeClock(100) },
    );

    // Assess
    expect(report.sent).toBe(2_000);
    expect(kinesis.maxInFlight).toBe(2);
  });

  it('stops once the remaining time reaches the safety margin and reports what it produced', async () => {
    // Prepare: 20 s left, 1 s spent per tick, 8 s margin
    const clock = fakeClock(1_000);
    const startedAt = clock.now();

    // Act
    const report = await runSimulation(
      { rate: 10, durationSeconds: 60, seed: 3 },
      { client: new CountingKinesis(), streamName: 's', remainingMs: () => 20_000 - (clock.now() - startedAt), safetyMarginMs: 8_000, ...clock },
    );

    // Assess: the last tick with more than 8 s left is at 11 s, 10 records a second
    expect(report).toMatchObject({ produced: 110, sent: 110, stoppedEarly: true });
  });
});

/** Keeps every Kinesis record put; refuses, every time, the records of the partition keys it is told. */
class AggregateRecordingKinesis implements PutRecordsClient {
  readonly records: Array<{ partitionKey: string; data: Buffer }> = [];
  constructor(private readonly refuse: ReadonlySet<string> = new Set()) {}

  async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const records = command.input.Records ?? [];
    return {
      $metadata: {},
      Records: records.map((r, i) => {
        if (this.refuse.has(r.PartitionKey ?? '')) return { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal Service Failure' };
        this.records.push({ partitionKey: r.PartitionKey ?? '', data: Buffer.from(r.Data ?? new Uint8Array()) });
        return { SequenceNumber: String(i), ShardId: 'shardId-000000000000' };
      }),
    };
  }
}

describe('simulation run, aggregated', () => {
  it("puts each tick's readings as one aggregate per source and counts readings and Kinesis records apart", async () => {
    // Prepare: 1,000 readings/s in 100 ms ticks over 11 sources
    const kinesis = new AggregateRecordingKinesis();

    // Act
    const report = await runSimulation(
      { rate: 1_000, durationSeconds: 3, seed: 4, aggregate: true },
      { client: kinesis, streamName: 's', remainingMs: () => 60_000, ...fakeClock(100) },
    );

    // Assess
    const unpacked = kinesis.records.map((r) => {
      const d = deaggregate(r.data);
      if (d.kind !== 'aggregate') throw new Error(d.kind);
      return { partitionKey: r.partitionKey, readings: d.records.map((u) => JSON.parse(u.data.toString('utf8')) as { source: string }) };
    });
    expect(unpacked.flatMap((u) => u.readings)).toHaveLength(3_000);
    for (const u of unpacked) expect(new Set(u.readings.map((r) => r.source))).toEqual(new Set([u.partitionKey]));
    expect(report).toMatchObject({ produced: 3_000, sent: 3_000, failed: 0, kinesisRecords: kinesis.records.length });
    expect(report.kinesisRecords).toBeLessThanOrEqual(30 * 11);
  });

  it('counts every reading of an aggregate that finally failed as failed, invalid ones included', async () => {
    // Prepare: every aggregate of FBE_01 is refused
    const kinesis = new AggregateRecordingKinesis(new Set(['FBE_01']));

    // Act
    const report = await runSimulation(
      { rate: 1_000, durationSeconds: 2, seed: 4, invalidRate: 0.2, aggregate: true },
      { client: kinesis, streamName: 's', remainingMs: () => 60_000, put: { maxAttempts: 2, sleep: async () => undefined }, ...fakeClock(100) },
    );

    // Assess: what reached the stream and what failed add up to what was produced, reading by reading
    const delivered = kinesis.records.flatMap((r) => {
      const d = deaggregate(r.data);
      return d.kind === 'aggregate' ? d.records : [];
    });
    expect(report.sent).toBe(delivered.length);
    expect(report.failed).toBe(2_000 - delivered.length);
    expect(report.failed).toBeGreaterThan(0);
    expect(report.failureCodes).toEqual({ InternalFailure: report.failed });
    const window = { maxPastSeconds: 7 * 24 * 3600, maxFutureSeconds: 300 };
    const rejected = delivered.filter((u) => !decodeRecord(u.data.toString('base64'), Date.parse('2026-03-01T08:00:00.000Z'), window).ok);
    expect(rejected.length).toBeGreaterThan(0);
    expect(report.invalid).toBe(rejected.length);
    expect(report.kinesisRecords).toBe(kinesis.records.length);
  });
});
