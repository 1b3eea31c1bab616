import type { FunctionColdStart } from '../scenarios/coldStart.ts';
import type { EndToEndResult } from '../scenarios/endToEnd.ts';
import type { Breakdown, IngestBenchResult, ModeResult } from '../scenarios/ingest.ts';
import type { LiveViewCost } from '../scenarios/liveView.ts';
import type { MemoryResult } from '../scenarios/memory.ts';
import type { PathWire } from '../scenarios/proxy.ts';
import { median } from './stats.ts';

export interface BenchMeta {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  /** 1-minute load average when the bench started: other work on the machine skews absolutes. */
  loadAverage: number;
  rounds: number;
  quick: boolean;
  seed: number;
  durationSeconds: number;
}

export interface BenchResult {
  meta: BenchMeta;
  ingest?: IngestBenchResult;
  /** `npm run cost` for prod at 1,000 readings/s with this run's ingest profile. */
  cost?: { stage: string; eventsPerSecond: number; variablePerMillionUsd: number };
  e2e?: EndToEndResult;
  liveView?: LiveViewCost;
  coldStart?: FunctionColdStart[];
  memory?: MemoryResult[];
  proxy?: PathWire[];
  targets: TargetCheck[];
}

export interface TargetCheck {
  name: string;
  target: string;
  actual: string;
  met: boolean;
}

export const TARGETS = {
  mergeVsCeilingA: 0.45,
  mergeVsBaseline: 60,
  rawVsCeilingB: 0.6,
  mergeVsPeerCompacted: 2.0,
  rawVsPeerRaw: 1.5,
  aggregatedVsPlain: 1.5,
  e2eVsEmulator: 0.7,
  /** Readings per second through the whole local pipeline on aggregated records (5x the original's 8,000/s). */
  e2eReadingsPerSec: 40_000,
  /** Variable cost of a million readings on prod at 1,000 readings/s, from this run's ingest profile. */
  prodVariablePerMillionUsd: 0.005,
  /** p99 <= batching window + this. */
  e2eP99SlackMs: 1_000,
  ingestBundleBytes: 500 * 1024,
  ingestInitMs: 150,
  peakRssMb: 256,
  /** End-to-end throughput with the live view and its viewers (one stalled) / without it. */
  liveViewVsNone: 0.95,
} as const;

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/**
 * A measured value next to its target, with as many decimals as it takes for a missed value to
 * print below the target (69.96% of a 70% target reads "69.96%", not "70%").
 */
export function against(value: number, target: number, met: boolean, render: (v: number, decimals: number) => string, atLeast = 0): string {
  for (let d = atLeast; d < 6; d++) {
    const shown = render(value, d);
    if (met || shown !== render(target, d)) return shown;
  }
  return render(value, 6);
}
const pctOf = (v: number, d: number) => `${(100 * v).toFixed(d)}%`;
const times = (v: number, d: number) => `${v.toFixed(d)}x`;
/** Checks every target the measured parts allow; a part not run yields no check. */
export function evaluateTargets(r: Omit<BenchResult, 'targets'>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (name: string, target: string, actual: string, met: boolean) => checks.push({ name, target, actual, met });
  const atLeast = (name: string, value: number, target: number, render: (v: number, d: number) => string, decimals: number) => {
    const met = value >= target;
    add(name, `>= ${render(target, decimals)}`, against(value, target, met, render, decimals), met);
  };
  if (r.ingest) {
    const { ratios } = r.ingest;
    atLeast('merge vs peer compacted (Powertools + zod + unnest)', ratios.mergeVsPeerCompacted, TARGETS.mergeVsPeerCompacted, times, 1);
    atLeast('raw vs peer raw (Powertools + zod + unnest)', ratios.rawVsPeerRaw, TARGETS.rawVsPeerRaw, times, 1);
    atLeast('raw vs ceiling B (binary COPY)', ratios.rawVsCeilingB, TARGETS.rawVsCeilingB, pctOf, 0);
    atLeast('ingest readings/s, KPL aggregates vs plain records', ratios.aggregatedVsPlain, TARGETS.aggregatedVsPlain, times, 1);
    atLeast('merge vs ceiling A', ratios.mergeVsCeilingA, TARGETS.mergeVsCeilingA, pctOf, 0);
    atLeast('merge vs per-row baseline', ratios.mergeVsBaseline, TARGETS.mergeVsBaseline, times, 0);
  }
  if (r.cost) {
    const { variablePerMillionUsd: v } = r.cost;
    const met = v <= TARGETS.prodVariablePerMillionUsd;
    const usd = (x: number, d: number) => `$${x.toFixed(d)}`;
    add(
      `variable cost per million readings, ${r.cost.stage} at ${r.cost.eventsPerSecond.toLocaleString('en-US')}/s`,
      `<= ${usd(TARGETS.prodVariablePerMillionUsd, 3)}`,
      against(v, TARGETS.prodVariablePerMillionUsd, met, usd, 4),
      met,
    );
  }
  if (r.e2e) {
    const ratio = r.e2e.throughput.eventsPerSec / r.e2e.ceiling.putGetPerSec;
    atLeast('end to end vs emulator put+get', ratio, TARGETS.e2eVsEmulator, pctOf, 0);
    atLeast('end to end readings/s', r.e2e.throughput.eventsPerSec, TARGETS.e2eReadingsPerSec, (v, d) => v.toLocaleString('en-US', { maximumFractionDigits: d }), 0);
    const limit = r.e2e.batchWindowSeconds * 1000 + TARGETS.e2eP99SlackMs;
    add('end to end p99 latency', `<= ${limit} ms`, `${r.e2e.latency.p99Ms.toFixed(0)} ms`, r.e2e.latency.p99Ms <= limit);
  }
  if (r.liveView) {
    const v = r.liveView;
    add(`end to end with the live view, ${v.viewers} viewers (1 stalled)`, `>= ${pct(TARGETS.liveViewVsNone)} of without`, pct(v.ratio), v.ratio >= TARGETS.liveViewVsNone);
  }
  const ingestFn = r.coldStart?.find((f) => f.name === 'ingest');
  if (ingestFn) {
    add('ingest bundle (minified)', `<= ${TARGETS.ingestBundleBytes / 1024} KiB`, `${(ingestFn.bytes / 1024).toFixed(0)} KiB`, ingestFn.bytes <= TARGETS.ingestBundleBytes);
    add('ingest module init', `<= ${TARGETS.ingestInitMs} ms`, `${ingestFn.initMs.toFixed(0)} ms`, ingestFn.initMs <= TARGETS.ingestInitMs);
  }
  for (const m of r.memory ?? []) {
    add(`peak RSS, ${m.mode}, ${m.records} records`, `<= ${TARGETS.peakRssMb} MB`, `${m.peakRssMb.toFixed(0)} MB`, m.peakRssMb <= TARGETS.peakRssMb);
  }
  for (const p of (r.proxy ?? []).filter((w) => w.path.startsWith('ingest'))) {
    add(
      `RDS Proxy friendly: ${p.path}`,
      `0 Parse, < ${(16_000 / 1000).toFixed(0)} KB`,
      `${p.parses} Parse, max ${(p.maxQueryBytes / 1000).toFixed(1)} KB, ${p.pinning.length} pinning`,
      p.proxyFriendly,
    );
  }
  return checks;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const ms1 = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '-');

/** Left-aligned first column, right-aligned others, columns separated by two spaces. */
export function formatColumns(rows: ReadonlyArray<readonly string[]>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const BREAKDOWN_PARTS: Array<keyof Breakdown> = ['decode', 'validation', 'merge', 'sql', 'statements', 'derive', 'publish', 'other'];

function breakdownRow(name: string, m: ModeResult): string[] {
  return [name, ...BREAKDOWN_PARTS.map((k) => `${ms1(m.ms[k])} (${pct(m.ms[k] / m.msPerBatch)})`), ms1(m.msPerBatch)];
}

function heading(meta: BenchMeta): string {
  return (
    `tapline bench ${meta.date}  node ${meta.node}, ${meta.cpus} x ${meta.cpuModel}, load ${meta.loadAverage.toFixed(1)} at start` +
    `\n${meta.rounds} rounds${meta.quick ? ' (quick)' : ''}, seed ${meta.seed}, medians; took ${meta.durationSeconds.toFixed(0)} s`
  );
}

/** The run's heading, ratios and targets: what the README shows of it. */
export function renderSummary(r: BenchResult): string {
  return [heading(r.meta), ...ratiosAndTargets(r)].join('\n') + '\n';
}

export function renderTable(r: BenchResult): string {
  const out: string[] = [];
  out.push(heading(r.meta));
  const ing = r.ingest;
  if (ing) {
    out.push(`\nIngest: ${int(ing.batchSize)}-record Kinesis batches, embedded PostgreSQL 17, one process`);
    out.push(
      formatColumns([
        ['scenario', 'records/s', 'rows/s', 'ms/batch', 'rows/batch'],
        ['ceiling A: base64 + JSON.parse + merge, no validation/I/O', int(ing.ceilingA.recordsPerSec), '-', ms1(ing.ceilingA.msPerBatch), '-'],
        ['ceiling B: binary COPY of the raw rows into telemetry_events', '-', int(ing.ceilingB.rowsPerSec), ms1(ing.ceilingB.msPerBatch), int(ing.batchSize)],
        [`baseline: validate + one INSERT per record (${int(ing.baseline.records)})`, int(ing.baseline.recordsPerSec), int(ing.baseline.recordsPerSec), '-', '1'],
        [
          'peer raw: Powertools BatchProcessor + zod + unnest INSERT',
          int(ing.peers.raw.recordsPerSec),
          int(ing.peers.raw.recordsPerSec),
          ms1(ing.peers.raw.msPerBatch),
          int(ing.batchSize),
        ],
        ['peer compacted: the same, last write per key', int(ing.peers.compacted.recordsPerSec), '-', ms1(ing.peers.compacted.msPerBatch), int(ing.merge.rowsPerBatch)],
        ['tapline ingest, merge mode', int(ing.merge.recordsPerSec), int(ing.merge.rowsPerSec), ms1(ing.merge.msPerBatch), int(ing.merge.rowsPerBatch)],
        [
          'tapline merge, from the invocation payload (JSON.parse of the event included)',
          int(ing.aggregated.plain.recordsPerSec),
          '-',
          ms1(ing.aggregated.plain.msPerBatch),
          int(ing.merge.rowsPerBatch),
        ],
        [
          `  the same readings in ${int(ing.aggregated.kinesisRecordsPerBatch)} KPL aggregates`,
          int(ing.aggregated.recordsPerSec),
          '-',
          ms1(ing.aggregated.msPerBatch),
          int(ing.merge.rowsPerBatch),
        ],
        ['tapline ingest, raw mode', int(ing.raw.recordsPerSec), int(ing.raw.rowsPerSec), ms1(ing.raw.msPerBatch), int(ing.raw.rowsPerBatch)],
      ]),
    );
    const rl = ing.resendsAndLate;
    out.push(
      `  exactness: a merge batch with 5% resends and 5% late readings takes ${ms1(rl.msPerBatch)} ms against ${ms1(rl.inOrderMsPerBatch)} ms in order (x${median(rl.perRoundRatio).toFixed(2)})`,
    );
    out.push('\nWhere a batch goes (ms, share of the batch)');
    out.push(formatColumns([['mode', ...BREAKDOWN_PARTS, 'total'], breakdownRow('merge', ing.merge), breakdownRow('raw', ing.raw)]));
    for (const [name, m] of [
      ['merge', ing.merge],
      ['raw', ing.raw],
    ] as const) {
      const s = m.sqlMs;
      if (name === 'raw') {
        out.push(`  raw state save: ${ms1(ing.raw.stateSaveMs)} ms (one change per key)`);
      }
      out.push(
        `  SQL ${name}: ${int(m.statementsPerBatch)} statements in ${int(m.roundTripsPerBatch)} round trips; awaited (overlapping): telemetry ${ms1(s.telemetry)}, ` +
          `state ${ms1(s.state)}, checkpoint ${ms1(s.checkpoint)}, outbox ${ms1(s.outbox)}, BEGIN/COMMIT ${ms1(s.transaction)} ms`,
      );
    }
    if (ing.profiles) {
      for (const [name, frames] of Object.entries(ing.profiles)) {
        out.push(`\nCPU profile, ${name} mode (self time, top frames)`);
        out.push(formatColumns(frames.slice(0, 12).map((f) => [`  ${f.frame}`, `${f.selfPct.toFixed(1)}%`])));
      }
    }
  }
  const e2e = r.e2e;
  if (e2e) {
    out.push(`\nEnd to end: stage ${e2e.stage}, ${e2e.shards} shards, batch ${e2e.batchSize}, window ${e2e.batchWindowSeconds} s (kinesalite, fauxqs, PostgreSQL)`);
    out.push(
      formatColumns([
        ['measure', 'events/s', 'p50 ms', 'p99 ms'],
        [`emulator put (${int(e2e.ceiling.records)} records)`, int(e2e.ceiling.putPerSec), '-', '-'],
        ['emulator get', int(e2e.ceiling.getPerSec), '-', '-'],
        ['emulator put + get (ceiling)', int(e2e.ceiling.putGetPerSec), '-', '-'],
        [`pipeline, ${int(e2e.throughput.events)} events at full speed`, int(e2e.throughput.eventsPerSec), int(e2e.throughput.p50Ms), int(e2e.throughput.p99Ms)],
        [`pipeline, steady ${int(e2e.latency.rate)}/s for ${e2e.latency.seconds} s`, int(e2e.latency.events / e2e.latency.seconds), int(e2e.latency.p50Ms), int(e2e.latency.p99Ms)],
      ]),
    );
    if (e2e.functionErrors > 0) out.push(`  function errors during the run: ${e2e.functionErrors}`);
  }
  const live = r.liveView;
  if (live) {
    out.push(`\nLive view: the full-speed run (${int(live.events)} events) without it and with ${live.viewers} viewers, one stalled; ${live.rounds} rounds, alternating`);
    out.push(
      formatColumns([
        ['measure', 'events/s (median)', 'per round'],
        ['without the live view', int(median(live.withoutPerSec)), live.withoutPerSec.map(int).join(' ')],
        [`with ${live.viewers} viewers`, int(median(live.withPerSec)), live.withPerSec.map(int).join(' ')],
        ['CPU ms per 1,000 events, without', ms1(median(live.cpuMsPerThousandWithout)), live.cpuMsPerThousandWithout.map(ms1).join(' ')],
        ['CPU ms per 1,000 events, with', ms1(median(live.cpuMsPerThousandWith)), live.cpuMsPerThousandWith.map(ms1).join(' ')],
      ]),
    );
    out.push(
      `  with / without: ${live.ratio.toFixed(3)} (median of per-round ratios); frames dropped: stalled viewer ${int(live.stalledDropped)}, ` +
        `reading viewers ${int(live.readersDropped)}; each reading viewer read ${int(live.framesPerReader)} frames per run`,
    );
    out.push(
      `  the view's own CPU (${int(live.replay.events)} events' batches replayed over ${live.replay.seconds.toFixed(0)} s, ${live.replay.pairs} pairs, pipeline idle): ` +
        `${ms1(live.replay.viewCpuMsPerThousand)} ms per 1,000 events = ${(100 * live.replay.shareOfPipelineCpu).toFixed(1)}% of the pipeline's own`,
    );
  }
  if (r.coldStart) {
    out.push('\nCold start: esbuild --bundle --minify --format=esm --target=node22, every dependency inside; import in a fresh node');
    out.push(formatColumns([['function', 'KiB', 'init ms', 'RSS after init MB'], ...r.coldStart.map((f) => [f.name, int(f.bytes / 1024), ms1(f.initMs), int(f.initRssMb)])]));
    const ingestFn = r.coldStart.find((f) => f.name === 'ingest');
    if (ingestFn) out.push(`  ingest bundle, largest parts (KiB): ${ingestFn.topPackages.map((p) => `${p.name} ${int(p.kib)}`).join(', ')}`);
  }
  if (r.memory) {
    out.push('\nMemory: bundled ingest handler, one invocation in a fresh process');
    out.push(formatColumns([['mode', 'records', 'peak RSS MB', 'after init MB'], ...r.memory.map((m) => [m.mode, int(m.records), int(m.peakRssMb), int(m.afterInitRssMb)])]));
  }
  if (r.proxy) {
    out.push('\nRDS Proxy check: frontend protocol messages counted by a TCP proxy in front of PostgreSQL');
    out.push(
      formatColumns([
        ['path', 'Query', 'Parse', 'max stmt B', 'pinning', 'friendly'],
        ...r.proxy.map((p) => [p.path, int(p.queries), int(p.parses), int(p.maxQueryBytes), int(p.pinning.length), p.proxyFriendly ? 'yes' : 'NO']),
      ]),
    );
  }
  out.push(...ratiosAndTargets(r));
  return out.join('\n') + '\n';
}

function ratiosAndTargets(r: BenchResult): string[] {
  const out: string[] = [];
  const ing = r.ingest;
  const e2e = r.e2e;
  if (ing) {
    out.push('\nRatios (median of per-round ratios, both sides measured in the same round)');
    out.push(
      formatColumns([
        ['tapline merge / peer compacted', `${ing.ratios.mergeVsPeerCompacted.toFixed(2)}x`],
        ['tapline raw / peer raw', `${ing.ratios.rawVsPeerRaw.toFixed(2)}x`],
        ['tapline merge, aggregated / plain', `${ing.ratios.aggregatedVsPlain.toFixed(2)}x`],
        ['tapline merge / ceiling A', ing.ratios.mergeVsCeilingA.toFixed(2)],
        ['tapline raw / ceiling B', ing.ratios.rawVsCeilingB.toFixed(2)],
        ['tapline merge / baseline', `${ing.ratios.mergeVsBaseline.toFixed(0)}x`],
        ...(e2e ? [['end to end / emulator put+get', (e2e.throughput.eventsPerSec / e2e.ceiling.putGetPerSec).toFixed(2)]] : []),
      ]),
    );
  }
  if (r.targets.length > 0) {
    out.push(`\nTargets: ${r.targets.filter((t) => t.met).length} of ${r.targets.length} met`);
    out.push(formatColumns(r.targets.map((t) => [t.name, t.target, t.actual, t.met ? 'met' : 'MISSED'])));
  }
  return out;
}
