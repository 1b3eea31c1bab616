import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadStageConfig } from '#config/stages';
import { DEFAULT_DATA_DIR } from '../cli/database.ts';
import { portNumber } from '../cli/run.ts';
import { startLocalEnvironment } from '../environment.ts';
import { DEFAULT_UI_PORT, startView, type RunningView } from '../live/startView.ts';
import { LocalPipeline, type PipelineSnapshot, type PipelineSummary } from '../pipeline.ts';

const USAGE = `npm run local -- [--duration 30] [--rate <events/s>] [--seed N] [--invalid-rate <0..1>] [--summary s.json] [--data-dir DIR] [--ui-port ${DEFAULT_UI_PORT} | --no-ui]
Runs simulator -> Kinesis -> ingest -> SQS -> writer on this machine (embedded PostgreSQL and
emulators on 127.0.0.1; DATABASE_URL / AWS_ENDPOINT_URL to use a real database or LocalStack).
--invalid-rate mixes that fraction of invalid records into the simulator's output (dead-letter path).
The live view is served on 127.0.0.1:--ui-port (another free port if it is taken; 0: any free port).`;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '30' },
    rate: { type: 'string' },
    seed: { type: 'string' },
    'invalid-rate': { type: 'string', default: '0' },
    summary: { type: 'string' },
    'data-dir': { type: 'string' },
    'ui-port': { type: 'string' },
    'no-ui': { type: 'boolean', default: false },
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
const invalidRate = fraction('invalid-rate', args['invalid-rate']);
const uiPort = args['no-ui'] ? undefined : port('ui-port', args['ui-port']);
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
// It holds the database URL with its password (a user's DATABASE_URL too): owner-only, like ~/.pgpass.
const connectionFile = join(workDir, 'connection.json');
writeFileSync(
  connectionFile,
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
  { mode: 0o600 },
);
chmodSync(connectionFile, 0o600);
note(`tapline local: stage ${config.stage}, ${config.stream.shards} shards, batch ${config.ingest.batchSize} / ${config.ingest.batchWindowSeconds}s window, ` +
  `up to ${config.ingest.parallelizationFactor} batch(es) per shard, ` +
  `${env.migration.engine} PostgreSQL (${env.migration.applied.length} migrations applied) ready in ${Date.now() - t0} ms`);
note(`producing ${rate} events/s for ${durationSeconds}s; function logs: ${LocalPipeline.logFileIn(workDir)}`);

// In AWS the maintenance function runs on a schedule; locally the runner drives it, and once more
// after draining so rollups, partitions and OEE reflect the whole run.
const pipeline: LocalPipeline = new LocalPipeline(env, LocalPipeline.logFileIn(workDir), [
  { name: 'maintenance', everyMs: 10_000, run: () => pipeline.maintain() },
]);
let live: RunningView | undefined;
let exitCode = 1;
try {
  if (uiPort !== undefined) {
    live = await startView({ mode: 'live', db: env.db, pipeline }, uiPort);
    note(`live view: ${live.url}${live.portWasBusy ? ` (port ${uiPort} was taken)` : ''}`);
  }
  await pipeline.start();
  const progress = startProgress(pipeline);
  const sim = await pipeline.simulate(rate, durationSeconds, seed, invalidRate);
  const drained = await pipeline.drain(60_000);
  await pipeline.runPeriodicNow();
  clearInterval(progress);
  await pipeline.stop();
  const summary = await pipeline.summary(sim, rate, durationSeconds);
  printSummary(summary, drained);
  await live?.view.finish(summary);
  if (args.summary) writeFileSync(resolve(args.summary), JSON.stringify(summary, null, 2) + '\n');
  exitCode = drained && accountedFor(summary) ? 0 : 1;
} catch (e) {
  await pipeline.stop().catch(() => undefined);
  note(`local run failed: ${(e as Error).message}`);
} finally {
  await live?.close();
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

/** Every record that reached the stream is ingested, dead-lettered or discarded, and the DLQ holds each invalid one. */
function accountedFor(s: PipelineSummary): boolean {
  return s.unaccounted === 0 && s.producerFailed === 0 && s.arrived >= s.produced && s.deadLettered === s.invalid;
}

function printSummary(s: PipelineSummary, drained: boolean) {
  const outside = s.arrived - s.produced;
  note('');
  note(
    `summary: produced ${fmt(s.produced)}${outside > 0 ? ` (+${fmt(outside)} put from outside)` : ''}, ingested ${fmt(s.ingested)}, ` +
      `invalid ${fmt(s.invalid)}${s.invalidInjected > 0 ? ` (${fmt(s.invalidInjected)} injected)` : ''}, unaccounted ${s.unaccounted}`,
  );
  note(`  rows written ${fmt(s.rowsWritten)} (duplicates skipped ${fmt(s.duplicatesSkipped)}), derived events ${fmt(s.derivedEvents)}, written ${fmt(s.derivedWritten)}`);
  note(`  database: ${fmt(s.database.telemetryRows)} telemetry rows, ${fmt(s.database.ruleEvents)} rule events, ${fmt(s.database.anomalyEvents)} anomalies`);
  note(`  dlq depths: ingest ${s.dlq.ingest}, on-failure ${s.dlq.onFailure}, events ${s.dlq.events}; max lag ${(s.maxLagMs / 1000).toFixed(2)} s; function errors ${s.functionErrors}`);
  if (s.functionErrors > 0) note(`  last function error (retried by the event source mappings): ${String((pipeline.lastError as Error | undefined)?.message ?? pipeline.lastError)}`);
  if (!drained) note('  NOT DRAINED: the pipeline still had work after 60 s (see the function log)');
  if (s.unaccounted !== 0) note(`  ACCOUNTING MISMATCH: ${s.unaccounted} records neither ingested, dead-lettered nor discarded`);
  if (s.arrived < s.produced) note(`  STREAM MISMATCH: the simulator sent ${fmt(s.produced)} records, ${fmt(s.arrived)} arrived`);
  if (s.deadLettered !== s.invalid) note(`  DEAD-LETTER MISMATCH: ${fmt(s.invalid)} invalid records, ${fmt(s.deadLettered)} new messages in the ingest DLQ`);
  if (s.producerFailed > 0) note(`  PRODUCER FAILURES: ${s.producerFailed} records were never accepted by the stream`);
}

function fraction(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1) {
    note(`--${name} must be a fraction in [0, 1), got "${raw ?? ''}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

function port(name: string, raw: string | undefined): number {
  try {
    return portNumber(name, raw, DEFAULT_UI_PORT);
  } catch (e) {
    note(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
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
