import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CreateQueueCommand, DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { loadStageConfig } from '#config/stages';
import { estimateCost } from '#core/cost/model';
import { profileFromBench } from '#core/cost/profile';
import { stageCostInputs } from '#core/cost/stageInputs';
import { startLocalEnvironment } from '../local/environment.ts';
import { runCommand, UsageError } from '../local/cli/run.ts';
import { sdkNoticeEnv } from '../local/cli/sdkNotice.ts';
import { BENCH_OPTIONS, benchArgs, USAGE, type BenchArgs } from './lib/args.ts';
import { BenchDocError, withBenchSections } from './lib/benchDoc.ts';
import { evaluateTargets, renderSummary, renderTable, type BenchResult } from './lib/report.ts';
import { BatchSource, BENCH_SEED } from './lib/syntheticBatches.ts';
import { bundleFunctions, runColdStart } from './scenarios/coldStart.ts';
import { runEndToEnd } from './scenarios/endToEnd.ts';
import { runIngestBench } from './scenarios/ingest.ts';
import { runLiveViewCost } from './scenarios/liveView.ts';
import { runMemory } from './scenarios/memory.ts';
import { runProxyCheck } from './scenarios/proxy.ts';

const BATCH_SIZE = 10_000;

runCommand({ usage: USAGE, options: BENCH_OPTIONS }, ({ values }) => bench(benchArgs(values)));

/** Before minutes of benching: each file --docs names must exist and hold bench markers. */
function checkBenchDoc(path: string): void {
  let doc: string;
  try {
    doc = readFileSync(resolve(path), 'utf8');
  } catch (e) {
    throw new UsageError(`--docs: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    withBenchSections(doc, { table: '', summary: '' });
  } catch (e) {
    if (e instanceof BenchDocError) throw new UsageError(`--docs: ${path} has ${e.message}`);
    throw e;
  }
}

async function bench(args: BenchArgs): Promise<number> {
  for (const doc of args.docs) checkBenchDoc(doc);
  const progress = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)}s] ${line}\n`);
  const runs = (group: string) => args.only === undefined || args.only.has(group);
  const started = performance.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const workDir = resolve('.tapline/bench');
  mkdirSync(workDir, { recursive: true });

  const config = loadStageConfig('local');
  progress('starting embedded PostgreSQL, and kinesalite and fauxqs in processes of their own (as Kinesis and SQS are remote in AWS)');
  const env = await startLocalEnvironment({ config, emulatorProcesses: true });
  const window = { maxPastSeconds: config.validation.maxPastSeconds, maxFutureSeconds: config.validation.maxFutureSeconds };
  // One simulated plant for every scenario: event times keep advancing, so each batch is new to the
  // derived state, as in production. An hour back leaves room for every batch the bench takes.
  const batches = new BatchSource(Date.now() - 3_600_000);
  const childEnv: Record<string, string> = {
    ...env.functionEnv,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SQS: process.env.AWS_ENDPOINT_URL_SQS ?? '',
    AWS_ENDPOINT_URL_KINESIS: process.env.AWS_ENDPOINT_URL_KINESIS ?? '',
    ...sdkNoticeEnv(),
  };
  // The ingest scenarios' derived events and dead letters (thousands) go to queues of their own:
  // left in the stage's events queue, the end-to-end run's writer had them all to work through.
  const queueNamed = async (name: string) => (await env.sqs.send(new CreateQueueCommand({ QueueName: `${name}-${Date.now()}` }))).QueueUrl!;
  const benchQueues = { events: await queueNamed('tapline-bench-events'), deadLetters: await queueNamed('tapline-bench-dlq') };
  const common = {
    sqs: env.sqs,
    deadLetterQueueUrl: benchQueues.deadLetters,
    eventsQueueUrl: benchQueues.events,
    window,
    batches,
    batchSize: BATCH_SIZE,
  };

  const result: Omit<BenchResult, 'targets' | 'meta'> = {};
  let exitCode = 0;
  try {
    if (runs('ingest')) {
      result.ingest = await runIngestBench({
        ...common,
        db: env.db,
        databaseUrl: env.databaseUrl,
        rounds: args.rounds,
        mergeBatchesPerRound: args.quick ? 3 : 5,
        rawBatchesPerRound: args.quick ? 1 : 2,
        baselineRecords: args.quick ? 500 : 1_000,
        profile: args.profile,
        progress,
      });
    }
    if (result.ingest) {
      // What `npm run cost -- --events-per-second 1000 --stage prod` prints, from this run's batches.
      const profile = profileFromBench({ meta: {}, ingest: result.ingest }, 'this run');
      const prod = loadStageConfig('prod');
      result.cost = { stage: 'prod', eventsPerSecond: 1_000, variablePerMillionUsd: estimateCost(stageCostInputs(prod, 1_000, profile).inputs).variablePerMillionUsd };
    }
    if (runs('proxy')) {
      progress('proxy: counting protocol messages of the hot path');
      result.proxy = await runProxyCheck({ ...common, databaseUrl: env.databaseUrl });
    }
    const bundleDir = join(workDir, 'bundles');
    const bundleOf = (name: string) => join(bundleDir, name, 'index.mjs');
    let ingestBundle: string | undefined;
    if (runs('cold') || runs('memory')) {
      progress('cold start: bundling every function and importing each in fresh processes');
      result.coldStart = await runColdStart({ projectRoot: process.cwd(), outDir: bundleDir, env: childEnv, samples: args.quick ? 3 : 5 });
      ingestBundle = bundleOf('ingest');
      if (!runs('cold')) delete result.coldStart;
    }
    if (runs('memory') && ingestBundle) {
      progress('memory: one 10,000-record invocation of the bundled ingest handler per mode');
      result.memory = await runMemory({ ...common, bundle: ingestBundle, workDir, env: childEnv, modes: ['merge', 'raw'] });
    }
    if (runs('e2e')) {
      // The functions' processes run their Lambda bundles, made in this run.
      if (!ingestBundle) await bundleFunctions(process.cwd(), bundleDir);
      result.e2e = await runEndToEnd({
        bundles: { simulator: bundleOf('simulator'), ingest: bundleOf('ingest') },
        env,
        events: args.quick ? 100_000 : 200_000,
        latencySeconds: args.quick ? 5 : 10,
        logFile: join(workDir, 'functions.log'),
        progress,
      });
      if (args.viewers > 0) {
        result.liveView = await runLiveViewCost({
          env,
          events: args.quick ? 20_000 : 40_000,
          viewers: args.viewers,
          rounds: args.rounds,
          logFile: join(workDir, 'functions.log'),
          progress,
        });
      }
    }
  } catch (e) {
    exitCode = 1;
    progress(`bench failed: ${(e as Error).stack ?? String(e)}`);
  } finally {
    for (const url of Object.values(benchQueues)) await env.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    await env.stop();
  }

  const cpu = cpus();
  const partial = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpu.length,
      cpuModel: (cpu[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
      loadAverage: loadAtStart,
      rounds: args.rounds,
      quick: args.quick,
      seed: BENCH_SEED,
      durationSeconds: (performance.now() - started) / 1000,
    },
    ...result,
  };
  const full: BenchResult = { ...partial, targets: evaluateTargets(partial) };
  mkdirSync(dirname(resolve(args.out)), { recursive: true });
  writeFileSync(resolve(args.out), JSON.stringify(full, null, 2) + '\n');
  process.stdout.write(args.json ? JSON.stringify(full, null, 2) + '\n' : renderTable(full));
  progress(`result written to ${args.out}`);
  const sections = { table: renderTable(full), summary: renderSummary(full) };
  for (const doc of args.docs) {
    writeFileSync(resolve(doc), withBenchSections(readFileSync(resolve(doc), 'utf8'), sections));
    progress(`results written to ${doc}`);
  }
  return exitCode;
}
