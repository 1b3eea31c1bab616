import { describe, expect, it } from 'vitest';
import { CostInputError, estimateCost, kinesisRecords, minimumBatchForTarget, type CostDeployment, type CostInputs } from '#core/cost/model';
import { AGGREGATE_MAX_BYTES, aggregateDataBytes, recordsPerAggregate } from '#core/kpl/aggregate';
import { HOURS_PER_MONTH, PRICES, SECONDS_PER_MONTH } from '#core/cost/prices';
import { BenchProfileError, DEFAULT_INGEST_PROFILE, profileFromBench } from '#core/cost/profile';

const deployment = (over: Partial<CostDeployment> = {}): CostDeployment => ({
  stage: 'test',
  stream: { mode: 'provisioned', shards: 4, retentionHours: 24 },
  ingest: { batchSize: 1_000, batchWindowSeconds: 1, memoryMb: 1_024 },
  writer: { batchSize: 100, batchWindowSeconds: 1, memoryMb: 512 },
  database: { mode: 'rds', instanceClass: 't4g.medium', allocatedStorageGb: 50, multiAz: false },
  logRetentionDays: 14,
  observability: { alarmMetrics: 16, dashboards: 1, customMetrics: 20 },
  vpc: { interfaceEndpoints: 4, availabilityZones: 2 },
  simulator: { scheduleMinutes: 0, durationSeconds: 50, memoryMb: 512 },
  kmsKeys: 1,
  ...over,
});
const inputs = (over: Partial<CostInputs> = {}): CostInputs => ({
  eventsPerSecond: 1_000,
  recordBytes: 115,
  deployment: deployment(),
  profile: DEFAULT_INGEST_PROFILE,
  ...over,
});
const line = (e: ReturnType<typeof estimateCost>, item: string) => e.lines.find((l) => l.item.startsWith(item));

describe('cost model', () => {
  it('prices provisioned Kinesis as shard-hours (fixed) plus one PUT payload unit per small record (variable)', () => {
    // Act
    const e = estimateCost(inputs());

    // Assess
    expect(line(e, '4 shards')).toMatchObject({ kind: 'fixed', monthlyUsd: 4 * HOURS_PER_MONTH * PRICES.kinesis.shardHour });
    const units = 1_000 * SECONDS_PER_MONTH;
    expect(line(e, 'PUT payload units')?.monthlyUsd).toBeCloseTo((units / 1e6) * PRICES.kinesis.putPayloadUnitsPerMillion, 6);
    expect(e.eventsPerMonth).toBe(units);
  });

  it('bills every on-demand record as a full KiB in and out, so a 100-byte and a 1,000-byte record cost the same', () => {
    // Prepare
    const onDemand = deployment({ stream: { mode: 'on-demand', shards: 1, retentionHours: 24 } });

    // Act
    const small = estimateCost(inputs({ deployment: onDemand, recordBytes: 100 }));
    const large = estimateCost(inputs({ deployment: onDemand, recordBytes: 1_000 }));

    // Assess
    expect(line(small, 'data in')?.monthlyUsd).toBe(line(large, 'data in')?.monthlyUsd);
    expect(small.variablePerMillionUsd).toBeGreaterThan(estimateCost(inputs()).variablePerMillionUsd);
  });

  it('spreads the per-invocation cost over bigger batches: larger batches cost less per event', () => {
    // Act
    const perEvent = [1, 10, 100, 1_000].map((b) => estimateCost(inputs({ recordsPerInvocation: b })).variablePerMillionUsd);

    // Assess
    for (let i = 1; i < perEvent.length; i++) expect(perEvent[i]).toBeLessThan(perEvent[i - 1] as number);
  });

  it('sends the derived events of a batch as one envelope: the events queue requests follow the ingest invocations, not the events', () => {
    // Prepare: 1,000 readings a batch, 0.05 derived events each: 50 events, about 20 KB, one envelope.
    const profile = { ...DEFAULT_INGEST_PROFILE, derivedEventsPerRecord: 0.05 };
    const requests = (e: ReturnType<typeof estimateCost>) => (line(e, 'events queue requests')?.monthlyUsd ?? 0) / PRICES.sqs.requestsPerMillion;

    // Act
    const batched = estimateCost(inputs({ profile, recordsPerInvocation: 1_000 }));
    const small = estimateCost(inputs({ profile, recordsPerInvocation: 100 }));

    // Assess: one send per invocation (1/s), and the writer receives and deletes once per invocation of its own.
    const sends = SECONDS_PER_MONTH / 1e6;
    expect(requests(batched)).toBeCloseTo(sends * 3, 6);
    // Smaller batches: ten sends a second, five events in each, and the writer's batches fill ten times faster.
    expect(requests(small)).toBeCloseTo(sends * 10 + 2 * sends, 6);
  });

  it('derives the batch each invocation gets from the rate per shard and the batching window, capped by BatchSize', () => {
    // Act
    const slow = estimateCost(inputs({ eventsPerSecond: 400 }));
    const fast = estimateCost(inputs({ eventsPerSecond: 3_800 }));

    // Assess: 100/s per shard over a 1 s window; 950/s per shard; 4 shards
    expect(slow.ingest.recordsPerInvocation).toBe(100);
    expect(slow.ingest.invocationsPerSecond).toBe(4);
    expect(fast.ingest.recordsPerInvocation).toBe(950);
  });

  it('finds the smallest batch that meets a per-million target, and none when the per-event parts alone exceed it', () => {
    // Act
    const b = minimumBatchForTarget(inputs(), 0.05);
    const impossible = minimumBatchForTarget(inputs(), 0.001);

    // Assess
    expect(b).toBeDefined();
    const at = (n: number) =>
      estimateCost(inputs({ deployment: deployment({ ingest: { batchSize: 10_000, batchWindowSeconds: 1, memoryMb: 1_024 } }), recordsPerInvocation: n })).variablePerMillionUsd;
    expect(at(b as number)).toBeLessThanOrEqual(0.05);
    expect(at((b as number) - 1)).toBeGreaterThan(0.05);
    expect(impossible).toBeUndefined();
  });

  it('prices the stage with the shards the rate needs, and says so, when the configured ones are too few', () => {
    // Act
    const e = estimateCost(inputs({ eventsPerSecond: 5_500 }));

    // Assess
    expect(e.ingest.shards).toBe(6);
    expect(e.warnings.join(' ')).toMatch(/needs 6 shards; the stage has 4/);
  });

  it('has no RDS, proxy or VPC endpoint lines for an external database, only its secret', () => {
    // Act
    const e = estimateCost(inputs({ deployment: deployment({ database: { mode: 'external' } }) }));

    // Assess
    expect(e.lines.filter((l) => l.component === 'Database').map((l) => l.monthlyUsd)).toEqual([0, PRICES.secretsManager.secretMonth]);
    expect(e.lines.some((l) => l.component === 'VPC endpoints')).toBe(false);
  });

  it('doubles instance and storage for Multi-AZ and refuses an instance class it has no price for', () => {
    // Act
    const single = estimateCost(inputs());
    const multi = estimateCost(inputs({ deployment: deployment({ database: { mode: 'rds', instanceClass: 't4g.medium', allocatedStorageGb: 50, multiAz: true } }) }));

    // Assess
    expect(line(multi, 'RDS db.t4g.medium')?.monthlyUsd).toBeCloseTo(2 * (line(single, 'RDS db.t4g.medium')?.monthlyUsd ?? 0), 6);
    expect(() => estimateCost(inputs({ deployment: deployment({ database: { mode: 'rds', instanceClass: 'x9.huge', allocatedStorageGb: 50, multiAz: false } }) }))).toThrow(
      CostInputError,
    );
    expect(() => estimateCost(inputs({ eventsPerSecond: 0 }))).toThrow(/positive/);
  });

  it('charges a scheduled simulator as a fixed cost: it runs whatever the real event rate', () => {
    // Act
    const off = estimateCost(inputs());
    const on = estimateCost(inputs({ deployment: deployment({ simulator: { scheduleMinutes: 1, durationSeconds: 50, memoryMb: 512 } }) }));

    // Assess: 43,800 runs x 50 s x 0.5 GB
    const sim = line(on, 'simulator every 1 min');
    expect(sim?.kind).toBe('fixed');
    expect(sim?.monthlyUsd).toBeCloseTo(43_800 * 25 * PRICES.lambda.perGbSecond + 0.0438 * PRICES.lambda.requestsPerMillion, 6);
    expect(line(off, 'simulator')).toBeUndefined();
    expect(on.variablePerMillionUsd).toBe(off.variablePerMillionUsd);
  });

  it('adds up: fixed + variable = total, and per-million figures follow from the monthly events', () => {
    // Act
    const e = estimateCost(inputs());

    // Assess
    expect(e.fixedMonthlyUsd + e.variableMonthlyUsd).toBeCloseTo(e.totalMonthlyUsd, 9);
    expect(e.variablePerMillionUsd).toBeCloseTo(e.variableMonthlyUsd / (e.eventsPerMonth / 1e6), 12);
  });
});

describe('cost model, aggregated records', () => {
  // 10 partition keys flushed every 100 ms: at 1,000 readings/s, 10 readings per aggregate
  const aggregation = { partitionKeys: 10, flushSeconds: 0.1, partitionKeyBytes: 6 };

  it('pays one PUT payload unit per aggregate instead of one per reading', () => {
    // Act
    const plain = estimateCost(inputs());
    const aggregated = estimateCost(inputs({ aggregation }));

    // Assess
    expect(aggregated.kinesis).toEqual({ aggregated: true, recordsPerSecond: 100, readingsPerRecord: 10, recordBytes: aggregateDataBytes(10, 115, 6) });
    expect(line(aggregated, 'PUT payload units')?.monthlyUsd).toBeCloseTo(((100 * SECONDS_PER_MONTH) / 1e6) * PRICES.kinesis.putPayloadUnitsPerMillion, 6);
    expect(line(aggregated, 'PUT payload units')?.monthlyUsd).toBeCloseTo((line(plain, 'PUT payload units')?.monthlyUsd ?? 0) / 10, 6);
    expect(aggregated.variablePerMillionUsd).toBeLessThan(plain.variablePerMillionUsd);
    expect(aggregated.eventsPerMonth).toBe(plain.eventsPerMonth);
  });

  it('packs no more readings into an aggregate than one 25 KiB unit holds, however fast they come', () => {
    // Act: 100,000 readings/s on one key flushed every second
    const k = kinesisRecords(100_000, 115, { partitionKeys: 1, flushSeconds: 1, partitionKeyBytes: 6 });

    // Assess
    expect(k.readingsPerRecord).toBe(recordsPerAggregate(115, 6));
    expect(k.recordBytes + 6).toBeLessThanOrEqual(AGGREGATE_MAX_BYTES);
    expect(k.recordsPerSecond).toBeCloseTo(100_000 / k.readingsPerRecord, 9);
  });

  it('never counts fewer than one reading per Kinesis record when too few readings arrive per flush', () => {
    // Act: 10 readings/s over 10 keys and 100 ms flushes is 0.1 per flush
    const k = kinesisRecords(10, 115, aggregation);

    // Assess
    expect(k).toMatchObject({ aggregated: true, readingsPerRecord: 1, recordsPerSecond: 10 });
    expect(() => kinesisRecords(10, 115, { ...aggregation, partitionKeys: 0 })).toThrow(CostInputError);
  });

  it('bills an on-demand aggregate by its whole KiB, in and out, instead of a KiB per reading', () => {
    // Prepare
    const onDemand = deployment({ stream: { mode: 'on-demand', shards: 4, retentionHours: 24 } });

    // Act
    const plain = estimateCost(inputs({ deployment: onDemand }));
    const aggregated = estimateCost(inputs({ deployment: onDemand, aggregation }));

    // Assess: 10 readings of 115 B and their framing take 2 KiB
    const kib = Math.ceil(aggregateDataBytes(10, 115, 6) / 1024);
    expect(kib).toBe(2);
    const gb = (100 * SECONDS_PER_MONTH * kib * 1024) / 1024 ** 3;
    expect(line(aggregated, 'data in')?.monthlyUsd).toBeCloseTo(gb * PRICES.kinesis.onDemandDataInPerGb, 6);
    expect(line(aggregated, 'data out')?.monthlyUsd).toBeCloseTo(gb * PRICES.kinesis.onDemandDataOutPerGb, 6);
    expect(line(aggregated, 'data in')?.monthlyUsd).toBeCloseTo((line(plain, 'data in')?.monthlyUsd ?? 0) / 5, 6);
  });

  it('counts BatchSize in Kinesis records, so an aggregated batch holds readingsPerRecord times more readings', () => {
    // Prepare: BatchSize 10 at 4,000 readings/s on 4 shards (1,000 per shard and second)
    const small = deployment({ ingest: { batchSize: 10, batchWindowSeconds: 1, memoryMb: 1_024 } });

    // Act
    const plain = estimateCost(inputs({ eventsPerSecond: 4_000, deployment: small }));
    const aggregated = estimateCost(inputs({ eventsPerSecond: 4_000, deployment: small, aggregation: { ...aggregation, partitionKeys: 40 } }));

    // Assess
    expect(plain.ingest.recordsPerInvocation).toBe(10);
    expect(aggregated.ingest.recordsPerInvocation).toBe(100);
  });

  it('needs shards for the Kinesis records and bytes the stream takes: aggregates ease the 1,000 records/s per shard limit', () => {
    // Act: 5,500 readings/s of 115 B would need 6 shards for the record count alone
    const plain = estimateCost(inputs({ eventsPerSecond: 5_500 }));
    const aggregated = estimateCost(inputs({ eventsPerSecond: 5_500, aggregation }));

    // Assess
    expect(plain.ingest.shards).toBe(6);
    expect(aggregated.ingest.shards).toBe(4);
    expect(aggregated.warnings).toEqual([]);
  });
});

describe('ingest profile from a bench result', () => {
  it('splits a merge batch into CPU per record and a per-batch part', () => {
    // Prepare
    const bench = {
      meta: { date: '2026-01-01' },
      ingest: {
        batchSize: 10_000,
        merge: {
          ms: { decode: 10, validation: 10, merge: 2, sql: 20, statements: 6, derive: 1, publish: 4, other: 2 },
          statementsPerBatch: 13,
          roundTripsPerBatch: 5,
          derivedEventsPerBatch: 3,
        },
      },
    };

    // Act
    const p = profileFromBench(bench, 'bench.json');

    // Assess
    expect(p.perRecordMs).toBeCloseTo(30 / 10_000, 12);
    expect(p.perBatchMs).toBe(25);
    expect(p.roundTripsPerBatch).toBe(5);
    expect(p.derivedEventsPerRecord).toBeCloseTo(0.0003, 12);
    expect(p.source).toBe('bench.json (2026-01-01)');
  });

  it('counts every statement as a round trip in a result from before round trips were counted', () => {
    // Prepare
    const bench = { ingest: { batchSize: 10_000, merge: { ms: { decode: 10, validation: 10, merge: 2, sql: 20, derive: 1, publish: 4, other: 2 }, statementsPerBatch: 13 } } };

    // Act + Assess
    expect(profileFromBench(bench, 'old.json').roundTripsPerBatch).toBe(13);
  });

  it('refuses a bench result without ingest timings', () => {
    // Act + Assess
    expect(() => profileFromBench({}, 'bench.json')).toThrow(BenchProfileError);
  });
});
