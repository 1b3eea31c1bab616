import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StageConfig } from '#config/stages';
import { estimateCost, minimumBatchForTarget, type CostDeployment, type CostEstimate, type CostInputs } from '#core/cost/model';
import { PRICE_REGION, PRICES, PRICES_AS_OF } from '#core/cost/prices';
import { DEFAULT_INGEST_PROFILE, profileFromBench, type BenchIngestSummary } from '#core/cost/profile';
import { stageCostInputs } from '#core/cost/stageInputs';
import { SIMULATOR_TICK_MS } from '#core/simulator/run';
import { positiveNumber, runCommand, stageFlag, UsageError } from '../../local/cli/run.ts';

const USAGE = `npm run cost -- --events-per-second N [--stage prod] [--bench .tapline/bench.json] [--json]
Monthly AWS cost of a stage at a steady event rate, by component, from the stage config, the ingest
time per batch measured by npm run bench (or a documented default), and the list prices it prints;
plain and aggregated (KPL) Kinesis records side by side, on provisioned and on-demand streams.`;

/** The goal for the variable cost of a million readings (issue 13: prod at 1,000 readings/s). */
const TARGET_PER_MILLION_USD = 0.005;

runCommand(
  {
    usage: USAGE,
    options: {
      'events-per-second': { type: 'string' },
      stage: { type: 'string', default: 'prod' },
      bench: { type: 'string', default: '.tapline/bench.json' },
      json: { type: 'boolean', default: false },
    },
  },
  async ({ values: args }) => {
    const rate = positiveNumber('events-per-second', args['events-per-second']);
    const config = stageFlag(args.stage);
    const benchFile = resolve(args.bench);
    const profile = statSync(benchFile, { throwIfNoEntry: false })?.isFile() ? profileFromBench(readBench(benchFile), args.bench) : DEFAULT_INGEST_PROFILE;

    const { plain, aggregated, inputs, recordBytes } = stageCostInputs(config, rate, profile);
    const estimate = estimateCost(inputs);
    const onStream = (i: CostInputs, mode: CostDeployment['stream']['mode']) => estimateCost({ ...i, deployment: { ...i.deployment, stream: { ...i.deployment.stream, mode } } });
    const comparison = (['provisioned', 'on-demand'] as const).flatMap((mode) =>
      (['plain', 'aggregated'] as const).map((records) => ({ records, mode, estimate: onStream(records === 'plain' ? plain : aggregated, mode) })),
    );
    const minBatch = minimumBatchForTarget(inputs, TARGET_PER_MILLION_USD);
    const sweep = [1, 10, 50, 100, 200, 500, 1_000, 10_000].map((b) => ({
      recordsPerInvocation: b,
      variablePerMillionUsd: estimateCost({ ...inputs, deployment: { ...inputs.deployment, ingest: { ...inputs.deployment.ingest, batchSize: b } }, recordsPerInvocation: b })
        .variablePerMillionUsd,
    }));

    if (args.json) {
      const compared = comparison.map(({ records, mode, estimate: e }) => ({
        records,
        mode,
        kinesis: e.kinesis,
        variablePerMillionUsd: e.variablePerMillionUsd,
        totalMonthlyUsd: e.totalMonthlyUsd,
      }));
      console.log(
        JSON.stringify(
          { stage: config.stage, recordBytes, profile, prices: { asOf: PRICES_AS_OF, region: PRICE_REGION, table: PRICES }, estimate, comparison: compared, minBatch, sweep },
          null,
          2,
        ),
      );
      return 0;
    }
    print(estimate, { config, rate, profile, recordBytes, comparison, sweep, minBatch });
    return 0;
  },
);

interface Printed {
  config: StageConfig;
  rate: number;
  profile: ReturnType<typeof profileFromBench>;
  recordBytes: number;
  comparison: Array<{ records: 'plain' | 'aggregated'; mode: CostDeployment['stream']['mode']; estimate: CostEstimate }>;
  sweep: Array<{ recordsPerInvocation: number; variablePerMillionUsd: number }>;
  minBatch: number | undefined;
}

function readBench(file: string): BenchIngestSummary {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BenchIngestSummary;
  } catch (e) {
    throw new UsageError(`--bench ${file} is not JSON: ${(e as Error).message}`);
  }
}

function print(e: CostEstimate, { config, rate, profile, recordBytes, comparison, sweep, minBatch }: Printed): void {
  const usd = (n: number, digits = 2) => `$${n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
  const out: string[] = [];
  out.push(
    `tapline cost: stage ${config.stage}, ${rate.toLocaleString('en-US')} events/s = ${(e.eventsPerMonth / 1e6).toLocaleString('en-US', { maximumFractionDigits: 0 })}M events/month`,
  );
  out.push(`ingest time per batch from: ${profile.source}`);
  out.push(
    `  ${profile.perRecordMs.toFixed(4)} ms CPU per record, ${profile.perBatchMs.toFixed(1)} ms per batch, ${profile.roundTripsPerBatch} round trips to the database (+0.5 ms each via RDS Proxy)`,
  );
  out.push(
    `reading ${recordBytes.toFixed(0)} B; ${kinesisLabel(e)}; ${config.stream.mode} stream, ${e.ingest.shards} shards; batch ${config.ingest.batchSize} / window ${config.ingest.batchWindowSeconds} s -> ` +
      `${Math.round(e.ingest.recordsPerInvocation)} readings per invocation, ${e.ingest.invocationsPerSecond.toFixed(2)} invocations/s, ${e.ingest.billedMs} ms billed each`,
  );
  for (const w of e.warnings) out.push(`WARNING: ${w}`);
  out.push('');
  const rows = [['component', 'item', 'kind', '$/month', 'basis'], ...e.lines.map((l) => [l.component, l.item, l.kind, usd(l.monthlyUsd), l.basis])];
  out.push(columns(rows));
  out.push('');
  out.push(`fixed ${usd(e.fixedMonthlyUsd)}/month + variable ${usd(e.variableMonthlyUsd)}/month = ${usd(e.totalMonthlyUsd)}/month`);
  const met = e.variablePerMillionUsd <= TARGET_PER_MILLION_USD;
  out.push(
    `variable cost per million events: ${usd(e.variablePerMillionUsd, 4)} (target <= ${usd(TARGET_PER_MILLION_USD, 3)}: ${met ? 'met' : 'MISSED'}); ` +
      `all-in per million at this rate: ${usd(e.totalPerMillionUsd, 4)}`,
  );
  const variable = e.lines.filter((l) => l.kind === 'variable').sort((a, b) => b.monthlyUsd - a.monthlyUsd);
  out.push(
    `largest variable parts: ${variable
      .slice(0, 3)
      .map((l) => `${l.component} ${l.item} ${((100 * l.monthlyUsd) / (e.variableMonthlyUsd || 1)).toFixed(0)}%`)
      .join(', ')}`,
  );
  out.push('');
  out.push(`plain and aggregated Kinesis records (the simulator aggregates per unit and ${SIMULATOR_TICK_MS} ms put, up to one 25 KiB PUT payload unit each):`);
  const perMillion = (x: CostEstimate, component?: string) =>
    x.lines.filter((l) => l.kind === 'variable' && (!component || l.component === component)).reduce((a, l) => a + l.monthlyUsd, 0) / (x.eventsPerMonth / 1e6);
  const compared = comparison.map(({ records, mode, estimate: x }) => [
    records,
    mode,
    Math.round(x.kinesis.recordsPerSecond).toLocaleString('en-US'),
    x.kinesis.readingsPerRecord.toFixed(1),
    usd(perMillion(x, 'Kinesis'), 4),
    usd(x.variablePerMillionUsd, 4),
    usd(x.totalMonthlyUsd),
    records === (config.simulator.aggregate ? 'aggregated' : 'plain') && mode === config.stream.mode ? '<- this stage' : '',
  ]);
  out.push(columns([['records', 'stream', 'Kinesis records/s', 'readings each', 'Kinesis $/M readings', 'variable $/M readings', '$/month', ''], ...compared]));
  out.push('(on demand bills every record rounded up to whole KiB, written and read: aggregation saves most there)');
  out.push('');
  out.push('variable cost per million events by readings per ingest invocation:');
  out.push(columns([sweep.map((s) => String(s.recordsPerInvocation)), sweep.map((s) => usd(s.variablePerMillionUsd, 4))]));
  if (minBatch === undefined) {
    out.push(`no batch size reaches ${usd(TARGET_PER_MILLION_USD, 3)} per million here: the per-event parts (above) dominate`);
  } else {
    const perShard = rate / e.ingest.shards;
    const window = Math.ceil(minBatch / perShard);
    const batchSize = Math.ceil(minBatch / e.kinesis.readingsPerRecord);
    out.push(
      `smallest batch meeting ${usd(TARGET_PER_MILLION_USD, 3)}/M: ${minBatch} readings per invocation; at ${perShard.toFixed(0)} events/s per shard ` +
        `that takes BatchSize >= ${batchSize}${e.kinesis.aggregated ? ' (Kinesis records, aggregated)' : ''} and a batching window of ${window <= 1 ? 'about 1 s (the ESM polls each shard about once a second)' : `${window} s`}`,
    );
  }
  out.push('');
  out.push(`price table (${PRICE_REGION} list prices recorded ${PRICES_AS_OF}, on-demand, no free tier; layers/core/src/cost/prices.ts):`);
  out.push(columns(priceRows()));
  console.log(out.join('\n'));
}

function kinesisLabel(e: CostEstimate): string {
  const k = e.kinesis;
  if (!k.aggregated) return 'one Kinesis record per reading';
  return `aggregated: ${k.readingsPerRecord.toFixed(1)} readings and ${Math.round(k.recordBytes).toLocaleString('en-US')} B per Kinesis record, ${Math.round(k.recordsPerSecond).toLocaleString('en-US')} records/s`;
}

function priceRows(): string[][] {
  const rows: string[][] = [];
  const walk = (prefix: string, value: unknown) => {
    if (typeof value === 'number') rows.push([`  ${prefix}`, String(value)]);
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
    }
  };
  walk('', PRICES);
  return rows;
}

function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
