import { describe, expect, it } from 'vitest';
import { CostInputError, estimateCost, minimumBatchForTarget, type CostDeployment, type CostInputs } from '#core/cost/model';
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
    const at = (n: number) => estimateCost(inputs({ deployment: deployment({ ingest: { batchSize: 10_000, batchWindowSeconds: 1, memoryMb: 1_024 } }), recordsPerInvocation: n })).variablePerMillionUsd;
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
    expect(() => estimateCost(inputs({ deployment: deployment({ database: { mode: 'rds', instanceClass: 'x9.huge', allocatedStorageGb: 50, multiAz: false } }) }))).toThrow(CostInputError);
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

describe('ingest profile from a bench result', () => {
  it('splits a merge batch into CPU per record and a per-batch part', () => {
    // Prepare
    const bench = {
      meta: { date: '2026-01-01' },
      ingest: {
        batchSize: 10_000,
        merge: { ms: { decode: 10, validation: 10, merge: 2, sql: 20, statements: 6, derive: 1, publish: 4, other: 2 }, statementsPerBatch: 13, derivedEventsPerBatch: 3 },
      },
    };

    // Act
    const p = profileFromBench(bench, 'bench.json');

    // Assess
    expect(p.perRecordMs).toBeCloseTo(30 / 10_000, 12);
    expect(p.perBatchMs).toBe(25);
    expect(p.statementsPerBatch).toBe(13);
    expect(p.derivedEventsPerRecord).toBeCloseTo(0.0003, 12);
    expect(p.source).toBe('bench.json (2026-01-01)');
  });

  it('refuses a bench result without ingest timings', () => {
    // Act + Assess
    expect(() => profileFromBench({}, 'bench.json')).toThrow(BenchProfileError);
  });
});
