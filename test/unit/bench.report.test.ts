import { describe, expect, it } from 'vitest';
import { evaluateTargets, formatColumns, renderTable, type BenchResult } from '../../bench/lib/report.ts';
import type { IngestBenchResult, ModeResult } from '../../bench/scenarios/ingest.ts';

const mode = (recordsPerSec: number): ModeResult => ({
  recordsPerSec,
  rowsPerSec: recordsPerSec,
  msPerBatch: 10_000_000 / recordsPerSec,
  rowsPerBatch: 143,
  ms: { decode: 10, validation: 5, merge: 2, sql: 20, statements: 3, derive: 1, publish: 4, other: 5 },
  sqlMs: { telemetry: 5, state: 5, checkpoint: 3, outbox: 4, other: 0, transaction: 3 },
  statementsPerBatch: 13,
  roundTripsPerBatch: 4,
  derivedEventsPerBatch: 2,
  perRoundPerSec: [recordsPerSec],
});

const ingest = (mergeVsCeilingA: number): IngestBenchResult => ({
  batchSize: 10_000,
  rounds: 1,
  ceilingA: { recordsPerSec: 400_000, msPerBatch: 25, perRoundPerSec: [400_000] },
  ceilingB: { rowsPerSec: 100_000, msPerBatch: 100, perRoundPerSec: [100_000] },
  baseline: { recordsPerSec: 3_000, records: 1_000, perRoundPerSec: [3_000] },
  peers: {
    raw: { recordsPerSec: 40_000, msPerBatch: 250, perRoundPerSec: [40_000] },
    compacted: { recordsPerSec: 100_000, msPerBatch: 100, perRoundPerSec: [100_000] },
  },
  merge: mode(400_000 * mergeVsCeilingA),
  resendsAndLate: { msPerBatch: 30, inOrderMsPerBatch: 25, perRoundRatio: [1.2] },
  aggregated: {
    recordsPerSec: 600_000,
    msPerBatch: 17,
    kinesisRecordsPerBatch: 70,
    perRoundPerSec: [600_000],
    plain: { recordsPerSec: 300_000, msPerBatch: 33, perRoundPerSec: [300_000] },
  },
  raw: { ...mode(20_000), stateSaveMs: 150 },
  ratios: {
    mergeVsCeilingA,
    rawVsCeilingB: 0.2,
    mergeVsBaseline: (400_000 * mergeVsCeilingA) / 3_000,
    mergeVsPeerCompacted: (400_000 * mergeVsCeilingA) / 100_000,
    rawVsPeerRaw: 0.5,
    aggregatedVsPlain: 1.6,
  },
});

const meta = { date: '2026-01-01T00:00:00Z', node: 'v20', cpus: 2, cpuModel: 'test', loadAverage: 0.5, rounds: 1, quick: true, seed: 42, durationSeconds: 60 };

describe('bench targets', () => {
  it('checks the issue targets as ratios measured side by side, and only for the parts that ran', () => {
    // Act
    const met = evaluateTargets({ meta, ingest: ingest(0.5) });
    const missed = evaluateTargets({ meta, ingest: ingest(0.3) });

    // Assess
    expect(met.map((t) => t.name)).toEqual([
      'merge vs peer compacted (Powertools + zod + unnest)',
      'raw vs peer raw (Powertools + zod + unnest)',
      'raw vs ceiling B (binary COPY)',
      'ingest readings/s, KPL aggregates vs plain records',
      'merge vs ceiling A',
      'merge vs per-row baseline',
    ]);
    expect(met.find((t) => t.name === 'merge vs ceiling A')).toMatchObject({ met: true, actual: '50%' });
    expect(met.find((t) => t.name === 'merge vs per-row baseline')).toMatchObject({ met: true, actual: '67x' });
    expect(met.find((t) => t.name.startsWith('merge vs peer compacted'))).toMatchObject({ met: true, target: '>= 2.0x', actual: '2.0x' });
    expect(missed.find((t) => t.name === 'merge vs ceiling A')).toMatchObject({ met: false, actual: '30%' });
    expect(missed.find((t) => t.name === 'raw vs ceiling B (binary COPY)')?.met).toBe(false);
  });

  it('holds the end-to-end p99 to the batching window plus one second, and bundles to 500 KiB', () => {
    // Prepare
    const e2e = e2eResult();
    const coldStart = [{ name: 'ingest', bytes: 500 * 1024, initMs: 150, initSamplesMs: [150], initRssMb: 50, topPackages: [] }];

    // Act
    const checks = evaluateTargets({ meta, e2e, coldStart });

    // Assess
    expect(checks.find((t) => t.name === 'end to end vs emulator put+get')).toMatchObject({ met: true, actual: '75%' });
    expect(checks.find((t) => t.name === 'end to end p99 latency')).toMatchObject({ met: false, target: '<= 2000 ms' });
    expect(checks.find((t) => t.name === 'end to end readings/s')).toMatchObject({ met: false, target: '>= 40,000', actual: '4,500' });
    expect(checks.find((t) => t.name === 'ingest bundle (minified)')?.met).toBe(true);
    expect(checks.find((t) => t.name === 'ingest module init')?.met).toBe(true);
  });

  it('holds the end-to-end run with the live view and its viewers to 95 % of the run without it', () => {
    // Prepare
    const liveView = (ratio: number) => ({
      viewers: 20,
      rounds: 3,
      events: 40_000,
      withoutPerSec: [10_000],
      withPerSec: [10_000 * ratio],
      ratio,
      cpuMsPerThousandWithout: [100],
      cpuMsPerThousandWith: [102],
      stalledDropped: 40,
      readersDropped: 0,
      framesPerReader: 30,
      replay: { events: 40_000, seconds: 20, pairs: 3, viewCpuMsPerThousand: 4, shareOfPipelineCpu: 0.04 },
    });

    // Act
    const met = evaluateTargets({ meta, liveView: liveView(0.97) });
    const missed = evaluateTargets({ meta, liveView: liveView(0.9) });
    const table = renderTable({ meta, liveView: liveView(0.97), targets: met });

    // Assess
    expect(met).toEqual([{ name: 'end to end with the live view, 20 viewers (1 stalled)', target: '>= 95% of without', actual: '97%', met: true }]);
    expect(missed[0]?.met).toBe(false);
    expect(table).toMatch(/with 20 viewers\s+9,700/);
    expect(table).toContain('frames dropped: stalled viewer 40, reading viewers 0');
    expect(table).toMatch(/CPU ms per 1,000 events, with\s+102\s+102/);
    expect(table).toContain('4.0 ms per 1,000 events = 4.0% of the pipeline');
  });

  it('prints the scenarios, the ratios and which targets were missed', () => {
    // Prepare
    const partial = { meta, ingest: ingest(0.3) };
    const result: BenchResult = { ...partial, targets: evaluateTargets(partial) };

    // Act
    const table = renderTable(result);

    // Assess
    expect(table).toContain('ceiling A: base64 + JSON.parse + merge');
    expect(table).toMatch(/tapline merge \/ ceiling A\s+0\.30/);
    expect(table).toMatch(/merge vs ceiling A\s+>= 45%\s+30%\s+MISSED/);
  });
});

describe('target lines', () => {
  it('print a missed value with the digits that show it is below the target, never rounded up to it', () => {
    // Prepare: 69.6% of a 70% target, and 1.996x of 2.0x.
    const close = { ...ingest(0.3), ratios: { ...ingest(0.3).ratios, rawVsCeilingB: 0.6996, mergeVsPeerCompacted: 1.996 } };
    // Act
    const checks = evaluateTargets({ meta, ingest: close });
    // Assess
    expect(checks.find((t) => t.name === 'raw vs ceiling B (binary COPY)')).toMatchObject({ target: '>= 60%', met: true });
    const e2eClose = evaluateTargets({ meta, e2e: { ...e2eResult(), throughput: { ...e2eResult().throughput, eventsPerSec: 0.6996 * 6_000 } } });
    expect(e2eClose.find((t) => t.name === 'end to end vs emulator put+get')).toMatchObject({ target: '>= 70%', actual: '69.96%', met: false });
    expect(checks.find((t) => t.name.startsWith('merge vs peer compacted'))).toMatchObject({ target: '>= 2.0x', actual: '1.996x', met: false });
  });

  it('hold the variable cost of prod to $0.005 per million readings, with the digits that show a miss', () => {
    // Act
    const cost = (v: number) => evaluateTargets({ meta, cost: { stage: 'prod', eventsPerSecond: 1_000, variablePerMillionUsd: v } })[0];
    // Assess
    expect(cost(0.0047)).toMatchObject({ name: 'variable cost per million readings, prod at 1,000/s', target: '<= $0.005', actual: '$0.0047', met: true });
    expect(cost(0.00504)).toMatchObject({ actual: '$0.00504', met: false });
  });
});

function e2eResult() {
  return {
    stage: 'local',
    shards: 2,
    batchSize: 200,
    batchWindowSeconds: 1,
    ceiling: { records: 1, putPerSec: 10_000, getPerSec: 20_000, putGetPerSec: 6_000 },
    throughput: { events: 1, eventsPerSec: 4_500, seconds: 1, p50Ms: 1, p99Ms: 1 },
    latency: { rate: 1, seconds: 1, events: 1, p50Ms: 100, p99Ms: 2_001, maxMs: 3_000 },
    functionErrors: 0,
  };
}

describe('table layout', () => {
  it('pads the first column left and the others right, two spaces apart', () => {
    // Act
    const text = formatColumns([
      ['name', 'n'],
      ['a', '100'],
    ]);

    // Assess
    expect(text).toBe('name    n\na     100');
  });
});
