import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { loadStageConfig } from '#config/stages';
import { kinesisClient, sqsClient } from '#core/aws';
import type { DeadLetterEntry } from '#core/ingest/deadLetter';
import { INVALID_REASONS } from '#core/record';
import { redriveEvents, type EventsRedriveReport } from '#core/redrive/eventsRedrive';
import { redriveIngest, type IngestRedriveReport } from '#core/redrive/ingestRedrive';
import { readConnectionFile, type ConnectionFile } from '../../local/cli/connectionFile.ts';
import { dataDir, dataDirHolder, lockDataDir, shown } from '../../local/cli/dataDir.ts';
import { CliError, note, runCommand, UsageError } from '../../local/cli/run.ts';
import { startLocalEnvironment } from '../../local/environment.ts';

const USAGE = `npm run redrive -- ingest [--discard <sequence|reason|all>]... [--dry-run]
npm run redrive -- events [--dry-run]

ingest  lists the invalid records ingest dead-lettered (reason, shard, sequence, payload preview);
        they stay until discarded with --discard (a sequence number, a reason code such as
        not_json, or "all"). Resolves the event source mapping's OnFailure messages: reads each
        failed batch's sequence range back from the stream and puts those records again.
events  moves the events dead-letter queue back to the events queue.
--dry-run lists without changing anything. Replaying twice is harmless: writes are idempotent.

Where (local): the queues of the running \`npm run local\` in --data-dir (default .tapline/local),
from its connection.json; when nothing runs there, the queues it and \`npm run invoke\` kept in
DIR/queues.json (what is left in them is kept again; the emulated stream is gone with its run, so
an OnFailure batch of an ended run cannot be read back and stays). Where (AWS): pass the queues (URL or name; the stack outputs) and your usual AWS
credentials and AWS_REGION:
  ingest: --invalid-records <queue> --on-failure <queue> [--stream <name>]
  events: --events-queue <queue> --events-dlq <queue>
AWS_ENDPOINT_URL, when set, is used for both services (e.g. LocalStack).
Exit status: 0 done, 1 a batch or message could not be moved, 2 usage or data dir in use.`;

const AWS_FLAGS = ['invalid-records', 'on-failure', 'events-queue', 'events-dlq'] as const;

runCommand(
  {
    usage: USAGE,
    positionals: 1,
    options: {
      discard: { type: 'string', multiple: true, default: [] },
      'dry-run': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      'invalid-records': { type: 'string' },
      'on-failure': { type: 'string' },
      stream: { type: 'string' },
      'events-queue': { type: 'string' },
      'events-dlq': { type: 'string' },
      region: { type: 'string' },
    },
  },
  async ({ values: args, positionals }) => {
    const command = positionals[0];
    if (!command) throw new UsageError('which queue? (ingest or events)');
    if (command !== 'ingest' && command !== 'events') throw new UsageError(`unknown command "${command}": expected ingest or events`);
    const discard = discardFilter(args.discard);
    const options: RedriveOptions = { ...args, command, discard };
    if (AWS_FLAGS.some((f) => args[f] !== undefined)) {
      note(`queues: ${process.env.AWS_ENDPOINT_URL ? `at ${process.env.AWS_ENDPOINT_URL}` : 'in AWS'} (from the flags)`);
      return redrive(options, undefined);
    }
    const dir = dataDir(args['data-dir']);
    const holder = dataDirHolder(dir);
    const running = holder ? readConnectionFile(dir) : undefined;
    if (holder && running) {
      note(`queues: those of the running \`${holder.command}\` in ${shown(dir.root)} (${running.sqsEndpoint})`);
      return redrive(options, running);
    }
    // Nothing runs on the data dir: its kept queues, served by an emulator for this command, and
    // saved again when it ends (what it leaves in them stays for the next run).
    const lock = lockDataDir(dir, `npm run redrive -- ${command}`);
    try {
      const external = process.env.DATABASE_URL;
      const env = await startLocalEnvironment({
        config: loadStageConfig('local'),
        ...(external ? { databaseUrl: external } : { pgDataDir: dir.pg }),
        queueStateFile: dir.queues,
      });
      try {
        note(`queues: kept in ${shown(dir.queues)} (${env.restoredMessages} message(s)), served by an emulator for this command`);
        return await redrive(options, {
          region: env.region,
          kinesisEndpoint: env.awsEndpoint,
          sqsEndpoint: env.sqsEndpoint,
          streamName: env.streamName,
          queues: { ingestDlq: env.queues.ingestDlq.url, onFailure: env.queues.onFailure.url, events: env.queues.events.url, eventsDlq: env.queues.eventsDlq.url },
        });
      } finally {
        await env.stop();
      }
    } finally {
      lock.release();
    }
  },
);

type Local = Omit<ConnectionFile, 'databaseUrl'>;
interface RedriveOptions {
  command: 'ingest' | 'events';
  discard: (e: DeadLetterEntry) => boolean;
  'dry-run': boolean;
  'invalid-records'?: string | undefined;
  'on-failure'?: string | undefined;
  stream?: string | undefined;
  'events-queue'?: string | undefined;
  'events-dlq'?: string | undefined;
  region?: string | undefined;
}

async function redrive(args: RedriveOptions, local: Local | undefined): Promise<number> {
  const { command } = args;
  if (local && !process.env.AWS_ENDPOINT_URL) {
    // The SDK picks these up, like every handler of the local run does.
    process.env.AWS_ENDPOINT_URL_KINESIS = local.kinesisEndpoint;
    process.env.AWS_ENDPOINT_URL_SQS = local.sqsEndpoint;
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  }
  const region = args.region ?? local?.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const sqs = sqsClient(region);
  const kinesis = kinesisClient(region);
  try {
    if (command === 'ingest') {
      const report = await redriveIngest(
        {
          sqs,
          kinesis,
          invalidRecordsQueueUrl: await queueUrl(sqs, args['invalid-records'] ?? local?.queues.ingestDlq, '--invalid-records'),
          onFailureQueueUrl: await queueUrl(sqs, args['on-failure'] ?? local?.queues.onFailure, '--on-failure'),
          ...(args.stream ? { streamName: args.stream } : {}),
        },
        { dryRun: args['dry-run'], discard: args.discard },
      );
      printIngest(report, args['dry-run']);
      return report.batches.every((b) => b.outcome === 'replayed' || b.outcome === 'dry-run') ? 0 : 1;
    }
    const report = await redriveEvents(
      {
        sqs,
        deadLetterQueueUrl: await queueUrl(sqs, args['events-dlq'] ?? local?.queues.eventsDlq, '--events-dlq'),
        queueUrl: await queueUrl(sqs, args['events-queue'] ?? local?.queues.events, '--events-queue'),
      },
      { dryRun: args['dry-run'] },
    );
    printEvents(report, args['dry-run']);
    return report.refused === 0 ? 0 : 1;
  } finally {
    sqs.destroy();
    kinesis.destroy();
  }
}

async function queueUrl(sqs: SQSClient, urlOrName: string | undefined, flag: string): Promise<string> {
  if (!urlOrName) throw new UsageError(`${flag} is required`);
  if (/^https?:\/\//.test(urlOrName)) return urlOrName;
  const out = await sqs.send(new GetQueueUrlCommand({ QueueName: urlOrName }));
  if (!out.QueueUrl) throw new CliError(`queue ${urlOrName} not found`);
  return out.QueueUrl;
}

/** `--discard all`, `--discard not_json` (a reason code), `--discard 4959...` (a sequence number). */
function discardFilter(values: string[]): (e: DeadLetterEntry) => boolean {
  const reasons = new Set<string>(INVALID_REASONS);
  for (const v of values) {
    if (v !== 'all' && !reasons.has(v) && !/^\d+$/.test(v)) {
      throw new UsageError(`--discard ${v}: expected "all", a reason code (${INVALID_REASONS.join(', ')}) or a sequence number`);
    }
  }
  return (e) => values.some((v) => v === 'all' || v === e.reason || v === e.sequenceNumber);
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`;
  return [line(header), ...rows.map(line)];
}

function printIngest(r: IngestRedriveReport, dryRun: boolean): void {
  const discarded = r.invalid.filter((i) => i.discarded).length;
  const out = [`invalid records: ${r.invalid.length} (${discarded} discarded, ${r.invalid.length - discarded} kept)`];
  if (r.invalid.length > 0) {
    out.push(
      ...table(
        ['REASON', 'SHARD', 'SEQUENCE', 'KEY', 'PAYLOAD'],
        r.invalid.map((i) => [i.discarded ? `${i.reason} (discarded)` : i.reason, i.shardId, i.sequenceNumber, i.partitionKey, `${i.truncated ? '[truncated] ' : ''}${i.preview}`]),
      ),
    );
  }
  out.push(`failed batches (OnFailure): ${r.batches.length}${dryRun ? ' (dry run: nothing put)' : ''}`);
  if (r.batches.length > 0) {
    out.push(
      ...table(
        ['SHARD', 'FIRST SEQUENCE', 'LAST SEQUENCE', 'RECORDS', 'CONDITION', 'OUTCOME'],
        r.batches.map((b) => [
          b.shardId,
          b.startSequenceNumber,
          b.endSequenceNumber,
          String(b.batchSize),
          b.condition,
          `${b.outcome}${b.detail ? `: ${b.detail}` : b.outcome === 'replayed' ? ` (${b.put} put)` : ''}`,
        ]),
      ),
    );
  }
  if (r.unrecognised > 0) out.push(`unrecognised messages left in place: ${r.unrecognised}`);
  console.log(out.join('\n'));
}

/** An envelope's first event id and how many more it holds. */
const eventIds = (ids: readonly string[]): string => (ids.length === 0 ? '-' : ids.length === 1 ? ids[0]! : `${ids[0]!} +${ids.length - 1}`);

function printEvents(r: EventsRedriveReport, dryRun: boolean): void {
  const out = [`events dead-letter queue: ${r.listed.length} message(s); ${dryRun ? 'dry run: none moved' : `${r.moved} moved to the events queue`}`];
  if (r.refused > 0) out.push(`${r.refused} refused by the events queue, left in the dead-letter queue`);
  if (r.listed.length > 0) {
    out.push(
      ...table(
        ['MESSAGE', 'KIND', 'EVENT IDS', 'INVALID', 'RECEIVES', 'MOVED'],
        r.listed.map((m) => [m.messageId, m.kind, eventIds(m.eventIds), String(m.invalid), String(m.receiveCount), m.moved ? 'yes' : 'no']),
      ),
    );
  }
  console.log(out.join('\n'));
}
