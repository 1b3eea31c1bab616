import { resolve } from 'node:path';
import { DeadLetterEntrySchema } from '#core/ingest/deadLetter';
import { MetricName } from '#core/metricNames';
import { dataDir, lockDataDir, shown } from '../cli/dataDir.ts';
import { redact } from '../cli/database.ts';
import { EVENT_KINDS, readEventFile, type FunctionName } from '../cli/eventFile.ts';
import { note, runCommand, stageFlag, UsageError } from '../cli/run.ts';
import { queueDepth, queueName, startLocalEnvironment, type LocalEnvironment, type Queue } from '../environment.ts';
import { localInvoker, type Handler } from '../esm/invoker.ts';
import { inspectQueue } from '../services/queueState.ts';

const USAGE = `npm run --silent invoke -- <ingest|writer|simulator|maintenance> --event FILE.json [--env KEY=VALUE]... [--data-dir DIR]
Runs one handler once with an event exactly as AWS sends it (samples: local/events/, and
npm run sample-event for fresh Kinesis records), against the local services: the embedded
PostgreSQL kept in DIR/pg (default .tapline/local) and the emulators, or DATABASE_URL /
AWS_ENDPOINT_URL. The handler's JSON response is the only thing printed on stdout; its logs, why
each record was dead-lettered and the queue depths go to stderr. The queues' messages are kept in
DIR/queues.json, for npm run redrive. --env overrides a function environment variable (as
sam local invoke --env-vars does), e.g. --env SIMULATOR_DURATION_SECONDS=2.
Exit status: 0 the handler returned, 1 it threw (its error is the response), 2 usage or data dir in use.`;

const FUNCTIONS: Record<FunctionName, () => Promise<{ handler: unknown }>> = {
  ingest: () => import('../../functions/ingest/handler.ts'),
  writer: () => import('../../functions/writer/handler.ts'),
  simulator: () => import('../../functions/simulator/handler.ts'),
  maintenance: () => import('../../functions/maintenance/handler.ts'),
};
/** Settings of each function in the stage config (maintenance runs with the writer's limits locally). */
const SETTINGS_OF = { ingest: 'ingest', writer: 'writer', simulator: 'simulator', maintenance: 'writer' } as const;
const isFunctionName = (name: string): name is FunctionName => name in EVENT_KINDS;

/** How many dead-letter reasons are printed one per line before the rest is only counted. */
const SHOWN_REASONS = 20;

runCommand(
  {
    usage: USAGE,
    positionals: 1,
    options: {
      event: { type: 'string' },
      env: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
      stage: { type: 'string', default: 'local' },
    },
  },
  async ({ values: args, positionals }) => {
    const name = positionals[0];
    if (!name) throw new UsageError('which handler? (ingest, writer, simulator or maintenance)');
    if (!isFunctionName(name)) throw new UsageError(`unknown handler "${name}": expected ${Object.keys(EVENT_KINDS).join(', ')}`);
    if (!args.event) throw new UsageError('--event FILE.json is required');
    const event = readEventFile(resolve(args.event), name);
    const overrides = envOverrides(args.env ?? []);
    const config = stageFlag(args.stage);

    const dir = dataDir(args['data-dir']);
    const lock = lockDataDir(dir, `npm run invoke -- ${name}`);
    try {
      const external = process.env.DATABASE_URL;
      const env = await startLocalEnvironment({
        config,
        ...(external ? { databaseUrl: external } : { pgDataDir: dir.pg }),
        ...(process.env.AWS_ENDPOINT_URL ? { awsEndpoint: process.env.AWS_ENDPOINT_URL } : {}),
        queueStateFile: dir.queues,
      });
      try {
        note(`database: ${external ? `${redact(external)} (DATABASE_URL)` : `embedded PostgreSQL kept in ${shown(dir.pg)}`}`);
        if (env.restoredMessages > 0) note(`queues: ${env.restoredMessages} message(s) kept from earlier runs put back (${shown(dir.queues)})`);
        return await invoke(env, name, event, { ...env.functionEnv, ...overrides }, config);
      } finally {
        await env.stop();
      }
    } finally {
      lock.release();
    }
  },
);

function envOverrides(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--env ${pair}: expected KEY=VALUE`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

async function invoke(env: LocalEnvironment, name: FunctionName, event: unknown, functionEnv: Record<string, string>, config: LocalEnvironment['config']): Promise<number> {
  Object.assign(process.env, functionEnv);
  const dlqs = [env.queues.ingestDlq, env.queues.eventsDlq];
  const before = new Set((await Promise.all(dlqs.map((q) => peek(env, q)))).flat().map((m) => m.messageId));

  // Like `sam local invoke`: the function's own output goes to stderr, its response to stdout.
  const stdout = process.stdout.write.bind(process.stdout);
  const report = captureBatchReport();
  let exitCode = 0;
  let response: unknown;
  try {
    const { handler } = (await FUNCTIONS[name]()) as { handler: Handler<unknown, unknown> };
    const settings = config[SETTINGS_OF[name]];
    const fn = { functionName: `tapline-${name}`, timeoutSeconds: settings.timeoutSeconds, memoryMb: settings.memoryMb, region: env.region };
    response = await localInvoker(fn, handler)(event);
  } catch (e) {
    exitCode = 1;
    response = { errorType: (e as Error).name, errorMessage: (e as Error).message };
  } finally {
    process.stdout.write = stdout;
  }

  const ingested = report.batch;
  if (ingested) {
    note(
      `ingest: ${ingested.records} record(s): ${ingested.written} reading(s) written, ${ingested.duplicates} duplicate(s), ` +
        `${ingested.deadLettered} dead-lettered, ${ingested.redelivered} redelivered`,
    );
    if (ingested.redelivered > 0) {
      note(
        `note: ${ingested.redelivered} record(s) are at or below their key's checkpoint: ingest treats them as Lambda redelivering a batch ` +
          `it already committed (this event was invoked before). \`npm run sample-event\` makes records new to this database.`,
      );
    }
  }
  const fresh = (await Promise.all(dlqs.map((q) => peek(env, q)))).flat().filter((m) => !before.has(m.messageId));
  printDeadLetters(fresh.map((m) => m.body));
  const q = env.queues;
  const depths = await Promise.all([q.ingestDlq, q.onFailure, q.events, q.eventsDlq].map((queue) => queueDepth(env.sqs, queue)));
  note(
    `queues after the invocation: ingest-dlq ${depths[0]}, on-failure ${depths[1]}, events ${depths[2]}, events-dlq ${depths[3]}` +
      (env.emulatedQueues ? ` (kept for npm run redrive and the next run)` : ''),
  );
  stdout(JSON.stringify(response ?? null) + '\n');
  return exitCode;
}

/** The messages of an emulated queue, read without receiving them; none for a real SQS (depths only). */
const peek = async (env: LocalEnvironment, queue: Queue) => (env.emulatedQueues ? inspectQueue(env.sqsEndpoint, queueName(queue)) : []);

interface BatchReport {
  records: number;
  written: number;
  duplicates: number;
  redelivered: number;
  deadLettered: number;
}

/**
 * Sends the function's stdout to stderr, and reads ingest's metrics line from it (CloudWatch's
 * embedded metric format, as one would read it in CloudWatch) for the one-line account of the batch.
 */
function captureBatchReport(): { batch: BatchReport | undefined } {
  const seen: { batch: BatchReport | undefined } = { batch: undefined };
  const stderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    for (const line of String(chunk).split('\n')) {
      if (!line.includes(`"${MetricName.RecordsIn}"`)) continue;
      try {
        const m = JSON.parse(line) as Record<string, unknown>;
        const count = (name: string) => (typeof m[name] === 'number' ? m[name] : 0);
        if (m._aws !== undefined && typeof m[MetricName.RecordsIn] === 'number') {
          seen.batch = {
            records: count(MetricName.RecordsIn),
            written: count(MetricName.ReadingsWritten),
            duplicates: count(MetricName.DuplicateReadings),
            redelivered: count(MetricName.RedeliveredRecords),
            deadLettered: count(MetricName.DeadLetteredRecords),
          };
        }
      } catch {
        // not one JSON line: printed as it is
      }
    }
    return stderr(chunk, ...(rest as []));
  };
  return seen;
}

function printDeadLetters(bodies: string[]): void {
  if (bodies.length === 0) return;
  note(`dead-lettered by this invocation: ${bodies.length}`);
  for (const body of bodies.slice(0, SHOWN_REASONS)) {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const entry = DeadLetterEntrySchema.safeParse(json);
    if (entry.success) {
      const e = entry.data;
      const at = `${e.shardId} ${e.sequenceNumber}${e.subSequenceNumber === undefined ? '' : `/${e.subSequenceNumber}`}`;
      note(`  ${e.reason}: ${e.detail} (record ${at}, key ${e.partitionKey})`);
    } else {
      note(`  events-dlq: ${body.slice(0, 160)}`);
    }
  }
  if (bodies.length > SHOWN_REASONS) note(`  ... and ${bodies.length - SHOWN_REASONS} more (npm run redrive -- ingest lists them all)`);
}
