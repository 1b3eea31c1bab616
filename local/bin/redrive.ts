import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { kinesisClient, sqsClient } from '#core/aws';
import type { DeadLetterEntry } from '#core/ingest/deadLetter';
import { INVALID_REASONS } from '#core/record';
import { redriveEvents, type EventsRedriveReport } from '#core/redrive/eventsRedrive';
import { redriveIngest, type IngestRedriveReport } from '#core/redrive/ingestRedrive';

const USAGE = `npm run redrive -- ingest [--discard <sequence|reason|all>]... [--dry-run]
npm run redrive -- events [--dry-run]

ingest  lists the invalid records ingest dead-lettered (reason, shard, sequence, payload preview);
        they stay until discarded with --discard (a sequence number, a reason code such as
        not_json, or "all"). Resolves the event source mapping's OnFailure messages: reads each
        failed batch's sequence range back from the stream and puts those records again.
events  moves the events dead-letter queue back to the events queue.
--dry-run lists without changing anything. Replaying twice is harmless: writes are idempotent.

Where (local): the running \`npm run local\` in --data-dir (default .tapline/local), from its
connection.json. Where (AWS): pass the queues (URL or name; the stack outputs) and your usual AWS
credentials and AWS_REGION:
  ingest: --invalid-records <queue> --on-failure <queue> [--stream <name>]
  events: --events-queue <queue> --events-dlq <queue>
AWS_ENDPOINT_URL, when set, is used for both services (e.g. LocalStack).`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

const ConnectionFileSchema = z.object({
  region: z.string().min(1),
  kinesisEndpoint: z.string().url(),
  sqsEndpoint: z.string().url(),
  streamName: z.string().min(1),
  queues: z.object({ ingestDlq: z.string().url(), onFailure: z.string().url(), events: z.string().url(), eventsDlq: z.string().url() }),
});
type ConnectionFile = z.infer<typeof ConnectionFileSchema>;

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    discard: { type: 'string', multiple: true, default: [] },
    'dry-run': { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: '.tapline/local' },
    'invalid-records': { type: 'string' },
    'on-failure': { type: 'string' },
    stream: { type: 'string' },
    'events-queue': { type: 'string' },
    'events-dlq': { type: 'string' },
    region: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

try {
  process.exitCode = await main();
} catch (e) {
  // The local emulators live in the `npm run local` process: once it ends, so do its queues.
  const hint = (e as { code?: string }).code === 'ECONNREFUSED' ? '\nIs `npm run local` still running? Its emulators stop with it.' : '';
  process.stderr.write(`redrive: ${(e as Error).message}${hint}\n${e instanceof UsageError ? `\n${USAGE}\n` : ''}`);
  process.exitCode = 2;
}

async function main(): Promise<number> {
  const command = positionals[0];
  if (args.help || !command) {
    console.log(USAGE);
    return args.help ? 0 : 2;
  }
  if (command !== 'ingest' && command !== 'events') throw new UsageError(`unknown command "${command}"`);
  const awsFlags = ['invalid-records', 'on-failure', 'events-queue', 'events-dlq'] as const;
  const local = awsFlags.some((f) => args[f] !== undefined) ? undefined : readConnectionFile(resolve(args['data-dir']));
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
        { dryRun: args['dry-run'], discard: discardFilter(args.discard) },
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

function readConnectionFile(dataDir: string): ConnectionFile {
  const file = join(dataDir, 'connection.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`no ${file}: start \`npm run local\` (it writes the file; its emulators live as long as it runs), pass --data-dir, or pass the queues for AWS`);
  }
  const parsed = ConnectionFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new UsageError(`${file} lacks the endpoints and queues (written by a newer \`npm run local\`): ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

async function queueUrl(sqs: SQSClient, urlOrName: string | undefined, flag: string): Promise<string> {
  if (!urlOrName) throw new UsageError(`${flag} is required`);
  if (/^https?:\/\//.test(urlOrName)) return urlOrName;
  const out = await sqs.send(new GetQueueUrlCommand({ QueueName: urlOrName }));
  if (!out.QueueUrl) throw new UsageError(`queue ${urlOrName} not found`);
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
        r.invalid.map((i) => [
          i.discarded ? `${i.reason} (discarded)` : i.reason,
          i.shardId,
          i.sequenceNumber,
          i.partitionKey,
          `${i.truncated ? '[truncated] ' : ''}${i.preview}`,
        ]),
      ),
    );
  }
  out.push(`failed batches (OnFailure): ${r.batches.length}${dryRun ? ' (dry run: nothing put)' : ''}`);
  if (r.batches.length > 0) {
    out.push(
      ...table(
        ['SHARD', 'FIRST SEQUENCE', 'LAST SEQUENCE', 'RECORDS', 'CONDITION', 'OUTCOME'],
        r.batches.map((b) => [b.shardId, b.startSequenceNumber, b.endSequenceNumber, String(b.batchSize), b.condition, `${b.outcome}${b.detail ? `: ${b.detail}` : b.outcome === 'replayed' ? ` (${b.put} put)` : ''}`]),
      ),
    );
  }
  if (r.unrecognised > 0) out.push(`unrecognised messages left in place: ${r.unrecognised}`);
  console.log(out.join('\n'));
}

function printEvents(r: EventsRedriveReport, dryRun: boolean): void {
  const out = [`events dead-letter queue: ${r.listed.length} message(s); ${dryRun ? 'dry run: none moved' : `${r.moved} moved to the events queue`}`];
  if (r.refused > 0) out.push(`${r.refused} refused by the events queue, left in the dead-letter queue`);
  if (r.listed.length > 0) {
    out.push(...table(['MESSAGE', 'KIND', 'EVENT ID', 'RECEIVES', 'MOVED'], r.listed.map((m) => [m.messageId, m.kind, m.eventId ?? '-', String(m.receiveCount), m.moved ? 'yes' : 'no'])));
  }
  console.log(out.join('\n'));
}
