import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeConnectionFile } from '../cli/connectionFile.ts';
import { dataDir, lockDataDir, shown } from '../cli/dataDir.ts';
import { redact } from '../cli/database.ts';
import { onInterrupt } from '../cli/interrupt.ts';
import { fraction, integer, note, portNumber, positiveNumber, runCommand, stageFlag, UsageError } from '../cli/run.ts';
import { startLocalEnvironment } from '../environment.ts';
import { DEFAULT_UI_PORT, startView, type RunningView } from '../live/startView.ts';
import { LocalPipeline, type PipelineSnapshot, type PipelineSummary } from '../pipeline.ts';

const USAGE = `npm run local -- [--duration 30] [--rate <events/s>] [--seed N] [--invalid-rate <0..1>] [--summary s.json]
                  [--data-dir .tapline/local] [--fresh] [--ui-port ${DEFAULT_UI_PORT} | --no-ui] [--stage local]
Runs simulator -> Kinesis -> ingest -> SQS -> writer on this machine (embedded PostgreSQL and
emulators on 127.0.0.1; DATABASE_URL / AWS_ENDPOINT_URL to use a real database or LocalStack).
The database and the queues' messages are kept in --data-dir between runs (npm run verify, export,
invoke, redrive and dashboard find them there); --fresh starts with an empty database and queues.
--invalid-rate mixes that fraction of invalid records into the simulator's output (dead-letter path).
The live view is served on 127.0.0.1:--ui-port (another free port if it is taken; 0: any free port).
Ctrl-C stops producing, drains, prints the summary so far and exits 130 (a second Ctrl-C: at once).
Exit status: 0 every record accounted for, 1 not (or a failure), 2 usage, 130 interrupted.`;

/** How long the pipeline may take to settle after production ends. */
const DRAIN_MS = 60_000;

runCommand(
  {
    usage: USAGE,
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      'invalid-rate': { type: 'string' },
      summary: { type: 'string' },
      'data-dir': { type: 'string' },
      fresh: { type: 'boolean', default: false },
      'ui-port': { type: 'string' },
      'no-ui': { type: 'boolean', default: false },
      stage: { type: 'string', default: 'local' },
    },
  },
  async ({ values: args }) => {
    // Every value is checked before anything starts.
    const config = stageFlag(args.stage);
    const durationSeconds = positiveNumber('duration', args.duration, 30);
    const rate = positiveNumber('rate', args.rate, config.simulator.ratePerSecond);
    const seed = integer('seed', args.seed, { min: -(2 ** 31), max: 2 ** 31 - 1, fallback: config.simulator.seed });
    const invalidRate = fraction('invalid-rate', args['invalid-rate'], 0);
    const uiPort = args['no-ui'] ? undefined : portNumber('ui-port', args['ui-port'], DEFAULT_UI_PORT);
    const summaryFile = args.summary === undefined ? undefined : resolve(args.summary);
    if (summaryFile && !statSync(dirname(summaryFile), { throwIfNoEntry: false })?.isDirectory()) {
      throw new UsageError(`--summary: the directory ${dirname(summaryFile)} does not exist`);
    }
    const dir = dataDir(args['data-dir']);
    const lock = lockDataDir(dir, 'npm run local');
    try {
      return await run({ config, durationSeconds, rate, seed, invalidRate, uiPort, summaryFile, fresh: args.fresh, dir });
    } finally {
      lock.release();
    }
  },
);

interface RunOptions {
  config: ReturnType<typeof stageFlag>;
  durationSeconds: number;
  rate: number;
  seed: number;
  invalidRate: number;
  uiPort: number | undefined;
  summaryFile: string | undefined;
  fresh: boolean;
  dir: ReturnType<typeof dataDir>;
}

async function run(o: RunOptions): Promise<number> {
  const { config, dir } = o;
  // The endpoints of an earlier run answer no more (and the file would be believed while this one starts).
  rmSync(dir.connection, { force: true });
  if (o.fresh) {
    rmSync(dir.pg, { recursive: true, force: true });
    rmSync(dir.queues, { force: true });
    note(`--fresh: removed the kept database and queues in ${shown(dir.root)}`);
  }
  const interrupt = new AbortController();
  let now: () => void = () => undefined;
  const stopNow = new Promise<void>((resolve) => (now = resolve));
  onInterrupt((count) => {
    if (count === 1) {
      note('interrupted: stopping the simulator, draining what is in flight (Ctrl-C again to stop at once)');
      interrupt.abort();
    } else {
      note('stopping at once, without draining');
      now();
    }
  });

  const external = process.env.DATABASE_URL;
  const keptBefore = !external && existsSync(join(dir.pg, 'PG_VERSION'));
  const t0 = Date.now();
  const env = await startLocalEnvironment({
    config,
    ...(external ? { databaseUrl: external } : { pgDataDir: dir.pg }),
    ...(process.env.AWS_ENDPOINT_URL ? { awsEndpoint: process.env.AWS_ENDPOINT_URL } : {}),
    queueStateFile: dir.queues,
  });
  let live: RunningView | undefined;
  let pipeline: LocalPipeline | undefined;
  try {
    note(`database: ${external ? `${redact(external)} (DATABASE_URL)` : `embedded PostgreSQL kept in ${shown(dir.pg)}${keptBefore ? '' : ' (new)'}`}`);
    if (env.restoredMessages > 0) note(`queues: ${env.restoredMessages} message(s) kept from earlier runs put back (${shown(dir.queues)})`);
    writeConnectionFile(dir, env);
    note(
      `tapline local: stage ${config.stage}, ${config.stream.shards} shards, batch ${config.ingest.batchSize} / ${config.ingest.batchWindowSeconds}s window, ` +
        `up to ${config.ingest.parallelizationFactor} batch(es) per shard, ` +
        `${env.migration.engine} PostgreSQL (${env.migration.applied.length} migrations applied) ready in ${Date.now() - t0} ms`,
    );
    if (interrupt.signal.aborted) return 130;
    note(`producing ${o.rate} events/s for ${o.durationSeconds}s; function logs: ${shown(dir.functionsLog)}`);

    // In AWS the maintenance function runs on a schedule; locally the runner drives it, and once more
    // after draining so rollups, partitions and OEE reflect the whole run.
    const p: LocalPipeline = new LocalPipeline(env, dir.functionsLog, [{ name: 'maintenance', everyMs: 10_000, run: () => p.maintain() }]);
    pipeline = p;
    if (o.uiPort !== undefined) {
      live = await startView({ mode: 'live', db: env.db, pipeline: p }, o.uiPort);
      note(`live view: ${live.url}${live.portWasBusy ? ` (port ${o.uiPort} was taken)` : ''}`);
    }
    await p.start();
    const progress = startProgress(p);
    const sim = await p.simulate(o.rate, o.durationSeconds, o.seed, o.invalidRate, interrupt.signal);
    let atOnce = false;
    void stopNow.then(() => (atOnce = true));
    const drained = await Promise.race([p.drain(DRAIN_MS), stopNow.then(() => false)]);
    clearInterval(progress);
    await Promise.race([stopNow, p.runPeriodicNow()]);
    await p.stop();
    const summary = await p.summary(sim, o.rate, o.durationSeconds);
    const notDrained = drained ? undefined : atOnce ? 'stopped at once by a second Ctrl-C' : `the pipeline still had work after ${DRAIN_MS / 1000} s (see the function log)`;
    printSummary(p, summary, notDrained, interrupt.signal.aborted ? (Date.now() - t0) / 1000 : undefined);
    await live?.view.finish(summary);
    if (o.summaryFile) writeFileSync(o.summaryFile, JSON.stringify(summary, null, 2) + '\n');
    if (interrupt.signal.aborted || atOnce) return 130;
    return drained && accountedFor(summary) ? 0 : 1;
  } catch (e) {
    await pipeline?.stop().catch(() => undefined);
    note(`local run failed: ${(e as Error).message}`);
    return 1;
  } finally {
    await live?.close();
    await env.stop();
  }
}

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
      // The line is only a view: the run's outcome comes from the summary, which reads the same sources
      // again and fails the run if they are still unreadable. Unhandled, this rejection would kill the run.
      .catch((e: unknown) => note(`[progress] no snapshot: ${(e as Error).message}`))
      .finally(() => (busy = false));
  }, 2_000);
}

/** Every record that reached the stream is ingested, dead-lettered or discarded, and the DLQ holds each invalid one. */
function accountedFor(s: PipelineSummary): boolean {
  return s.unaccounted === 0 && s.producerFailed === 0 && s.arrived >= s.produced && s.deadLettered === s.invalid;
}

function printSummary(pipeline: LocalPipeline, s: PipelineSummary, notDrained: string | undefined, interruptedAfterSeconds: number | undefined) {
  const outside = s.arrived - s.produced;
  note('');
  if (interruptedAfterSeconds !== undefined) note(`interrupted after ${interruptedAfterSeconds.toFixed(1)} s: the summary of what was produced until then`);
  note(
    `summary: produced ${fmt(s.produced)}${outside > 0 ? ` (+${fmt(outside)} put from outside)` : ''}, ingested ${fmt(s.ingested)}, ` +
      `invalid ${fmt(s.invalid)}${s.invalidInjected > 0 ? ` (${fmt(s.invalidInjected)} injected)` : ''}, unaccounted ${s.unaccounted}`,
  );
  note(`  rows written ${fmt(s.rowsWritten)} (duplicates skipped ${fmt(s.duplicatesSkipped)}), derived events ${fmt(s.derivedEvents)}, written ${fmt(s.derivedWritten)}`);
  note(`  database: ${fmt(s.database.telemetryRows)} telemetry rows, ${fmt(s.database.ruleEvents)} rule events, ${fmt(s.database.anomalyEvents)} anomalies`);
  note(
    `  dlq depths: ingest ${s.dlq.ingest}, on-failure ${s.dlq.onFailure}, events ${s.dlq.events}; max lag ${(s.maxLagMs / 1000).toFixed(2)} s; function errors ${s.functionErrors}`,
  );
  if (s.functionErrors > 0)
    note(`  last function error (retried by the event source mappings): ${String((pipeline.lastError as Error | undefined)?.message ?? pipeline.lastError)}`);
  if (notDrained) note(`  NOT DRAINED: ${notDrained}`);
  if (s.unaccounted !== 0) note(`  ACCOUNTING MISMATCH: ${s.unaccounted} records neither ingested, dead-lettered nor discarded`);
  if (s.arrived < s.produced) note(`  STREAM MISMATCH: the simulator sent ${fmt(s.produced)} records, ${fmt(s.arrived)} arrived`);
  if (s.deadLettered !== s.invalid) note(`  DEAD-LETTER MISMATCH: ${fmt(s.invalid)} invalid records, ${fmt(s.deadLettered)} new messages in the ingest DLQ`);
  if (s.producerFailed > 0) note(`  PRODUCER FAILURES: ${s.producerFailed} records were never accepted by the stream`);
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
