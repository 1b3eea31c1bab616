import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadStageConfig } from '#config/stages';
import { DEFAULT_DATA_DIR } from '../cli/database.ts';
import { startLocalEnvironment } from '../environment.ts';
import { LocalPipeline, type PipelineSnapshot, type PipelineSummary } from '../pipeline.ts';

const USAGE = `npm run local -- [--duration 30] [--rate <events/s>] [--seed N] [--summary s.json] [--data-dir DIR]
Runs simulator -> Kinesis -> ingest -> SQS -> writer on this machine (embedded PostgreSQL and
emulators on 127.0.0.1; DATABASE_URL / AWS_ENDPOINT_URL to use a real database or LocalStack).`;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '30' },
    rate: { type: 'string' },
    seed: { type: 'string' },
    summary: { type: 'string' },
    'data-dir': { type: 'string' },
    stage: { type: 'string', default: 'local' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const config = loadStageConfig(args.stage);
const durationSeconds = positive('duration', args.duration);
const rate = args.rate === undefined ? config.simulator.ratePerSecond : positive('rate', args.rate);
const seed = args.seed === undefined ? config.simulator.seed : Number(args.seed);
const workDir = resolve(args['data-dir'] ?? DEFAULT_DATA_DIR);
mkdirSync(workDir, { recursive: true });

const t0 = Date.now();
const env = await startLocalEnvironment({
  config,
  ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
  ...(process.env.AWS_ENDPOINT_URL ? { awsEndpoint: process.env.AWS_ENDPOINT_URL } : {}),
  ...(args['data-dir'] ? { pgDataDir: join(workDir, 'pg') } : {}),
});
// Where this run's parts listen, for the operator commands run beside it (npm run redrive, verify).
writeFileSync(
  join(workDir, 'connection.json'),
  JSON.stringify(
    {
      databaseUrl: env.databaseUrl,
      ...(args['data-dir'] ? { pgDataDir: join(workDir, 'pg') } : {}),
      region: env.region,
      kinesisEndpoint: env.awsEndpoint,
      sqsEndpoint: env.sqsEndpoint,
      streamName: env.streamName,
      queues: Object.fromEntries(Object.entries(env.queues).map(([name, q]) => [name, q.url])),
    },
    null,
    2,
  ) + '\n',
);
note(`tapline local: stage ${config.stage}, ${config.stream.shards} shards, batch ${config.ingest.batchSize} / ${config.ingest.batchWindowSeconds}s window, ` +
  `${env.migration.engine} PostgreSQL (${env.migration.applied.length} migrations applied) ready in ${Date.now() - t0} ms`);
note(`producing ${rate} events/s for ${durationSeconds}s; function logs: ${LocalPipeline.logFileIn(workDir)}`);

// In AWS the maintenance function runs on a schedule; locally the runner drives it, and once more
// after draining so rollups, partitions and OEE reflect the whole run.
const pipeline: LocalPipeline = new LocalPipeline(env, LocalPipeline.logFileIn(workDir), [
  { name: 'maintenance', everyMs: 10_000, run: () => pipeline.maintain() },
]);
let exitCode = 1;
try {
  await pipeline.start();
  const progress = startProgress(pipeline);
  const sim = await pipeline.simulate(rate, durationSeconds, seed);
  const drained = await pipeline.drain(60_000);
  await pipeline.runPeriodicNow();
  clearInterval(progress);
  await pipeline.stop();
  const summary = await pipeline.summary(sim, rate, durationSeconds);
  printSummary(summary, drained);
  if (args.summary) writeFileSync(resolve(args.summary), JSON.stringify(summary, null, 2) + '\n');
  exitCode = drained && summary.unaccounted === 0 && summary.producerFailed === 0 ? 0 : 1;
} catch (e) {
  await pipeline.stop().catch(() => undefined);
  note(`local run failed: ${(e as Error).message}`);
} finally {
  await env.stop();
}
process.exit(exitCode);

function startProgress(p: LocalPipeline): NodeJS.Timeout {
  let last: PipelineSnapshot | undefined;
  let busy = false;
  return setInterval(() => {
    if (busy) return;
    busy = true;
    p.snapshot()
      .then((s) => {
        const dt = last ? (s.elapsedMs - last.elapsedMs) / 1000 : s.elapsedMs / 1000;
        const per = (now: number, before = 0) => fmt(Math.round((now - before) / dt));
        note(
          `[${String(Math.round(s.elapsedMs / 1000)).padStart(3)}s] produced ${fmt(s.arrived)} (${per(s.arrived, last?.arrived)}/s)` +
            ` | ingested ${fmt(s.ingested)} (${per(s.ingested, last?.ingested)}/s) | lag ${(s.lagMs / 1000).toFixed(1)}s` +
            ` | rows ${fmt(s.rowsWritten)} | derived ${fmt(s.derivedEvents)} -> written ${fmt(s.derivedWritten)}` +
            ` | dlq ingest ${s.dlq.ingest} on-failure ${s.dlq.onFailure} events ${s.dlq.events}`,
        );
        last = s;
      })
      .finally(() => (busy = false));
  }, 2_000);
}

function printSummary(s: PipelineSummary, drained: boolean) {
  note('');
  note(`summary: produced ${fmt(s.produced)}, ingested ${fmt(s.ingested)}, invalid ${fmt(s.invalid)}, unaccounted ${s.unaccounted}`);
  note(`  rows written ${fmt(s.rowsWritten)} (duplicates skipped ${fmt(s.duplicatesSkipped)}), derived events ${fmt(s.derivedEvents)}, written ${fmt(s.derivedWritten)}`);
  note(`  database: ${fmt(s.database.telemetryRows)} telemetry rows, ${fmt(s.database.ruleEvents)} rule events, ${fmt(s.database.anomalyEvents)} anomalies`);
  note(`  dlq depths: ingest ${s.dlq.ingest}, on-failure ${s.dlq.onFailure}, events ${s.dlq.events}; max lag ${(s.maxLagMs / 1000).toFixed(2)} s; function errors ${s.functionErrors}`);
  if (s.functionErrors > 0) note(`  last function error (retried by the event source mappings): ${String((pipeline.lastError as Error | undefined)?.message ?? pipeline.lastError)}`);
  if (!drained) note('  NOT DRAINED: the pipeline still had work after 60 s (see the function log)');
  if (s.unaccounted !== 0) note(`  ACCOUNTING MISMATCH: ${s.unaccounted} records neither ingested, dead-lettered nor discarded`);
  if (s.producerFailed > 0) note(`  PRODUCER FAILURES: ${s.producerFailed} records were never accepted by the stream`);
}

function positive(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    note(`--${name} must be a positive number, got "${raw ?? ''}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function note(line: string) {
  process.stderr.write(line + '\n');
}
