import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { parseDeadLetterEntry, type DeadLetterEntry } from '../ingest/deadLetter.ts';
import { putRecords, type PutOptions } from '../producer.ts';
import { parseOnFailureMessage, type OnFailureMessage } from './onFailureMessage.ts';
import { deleteMessages, receiveAll, releaseMessages } from './queueMessages.ts';
import { readSequenceRange, streamNameFromArn, type RangeReadOptions } from './streamRange.ts';

export interface IngestRedriveTarget {
  sqs: SQSClient;
  kinesis: KinesisClient;
  /** The queue ingest sends invalid records to (INGEST_DLQ_URL). */
  invalidRecordsQueueUrl: string;
  /** The event source mapping's OnFailure destination. */
  onFailureQueueUrl: string;
  /** Put replayed records to this stream instead of the one named in the OnFailure message. */
  streamName?: string;
}

export interface IngestRedriveOptions {
  /** Invalid-record entries to delete (the producer was fixed and resent them, or they are not wanted). */
  discard?: (entry: DeadLetterEntry) => boolean;
  /** List only: nothing is put, nothing deleted. */
  dryRun?: boolean;
  put?: PutOptions;
  range?: RangeReadOptions;
}

export interface InvalidRecordListing {
  reason: DeadLetterEntry['reason'];
  detail: string;
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  /** The start of the payload as text, control characters escaped. */
  preview: string;
  truncated: boolean;
  rejectedAt: string;
  discarded: boolean;
}

export type BatchOutcome = 'replayed' | 'dry-run' | 'incomplete' | 'put-failed';

export interface BatchRedrive {
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  condition: string;
  batchSize: number;
  /** Records read back from the stream. */
  read: number;
  /** Records put to the stream again. */
  put: number;
  outcome: BatchOutcome;
  detail?: string;
}

export interface IngestRedriveReport {
  invalid: InvalidRecordListing[];
  batches: BatchRedrive[];
  /** Messages in either queue that are neither an invalid-record entry nor an OnFailure message; left in place. */
  unrecognised: number;
}

const PREVIEW_CHARS = 60;

/**
 * The ingest side of `npm run redrive -- ingest`:
 * - invalid records (ingest's own DLQ, payload included) are listed with their reasons and stay
 *   in the queue, unless `discard` selects them;
 * - OnFailure messages (metadata only) are resolved by reading their sequence range back from the
 *   stream and putting those records again; the message is deleted only once every record is back
 *   in the stream. Ingest is idempotent by key, so replaying a range twice changes nothing.
 */
export async function redriveIngest(t: IngestRedriveTarget, o: IngestRedriveOptions = {}): Promise<IngestRedriveReport> {
  const report: IngestRedriveReport = { invalid: [], batches: [], unrecognised: 0 };
  await handleInvalidRecords(t, o, report);
  await handleFailedBatches(t, o, report);
  return report;
}

async function handleInvalidRecords(t: IngestRedriveTarget, o: IngestRedriveOptions, report: IngestRedriveReport): Promise<void> {
  const messages = await receiveAll(t.sqs, t.invalidRecordsQueueUrl);
  const keep: Message[] = [];
  const drop: Message[] = [];
  for (const m of messages) {
    const entry = parseDeadLetterEntry(m.Body ?? '');
    if (!entry) {
      report.unrecognised++;
      keep.push(m);
      continue;
    }
    const discarded = !o.dryRun && (o.discard?.(entry) ?? false);
    (discarded ? drop : keep).push(m);
    report.invalid.push({
      reason: entry.reason,
      detail: entry.detail,
      shardId: entry.shardId,
      sequenceNumber: entry.sequenceNumber,
      partitionKey: entry.partitionKey,
      preview: payloadPreview(entry.data),
      truncated: entry.truncated,
      rejectedAt: entry.rejectedAt,
      discarded,
    });
  }
  await deleteMessages(t.sqs, t.invalidRecordsQueueUrl, drop);
  await releaseMessages(t.sqs, t.invalidRecordsQueueUrl, keep);
}

async function handleFailedBatches(t: IngestRedriveTarget, o: IngestRedriveOptions, report: IngestRedriveReport): Promise<void> {
  const messages = await receiveAll(t.sqs, t.onFailureQueueUrl);
  const keep: Message[] = [];
  try {
    for (const m of messages) {
      const failure = parseOnFailureMessage(m.Body ?? '');
      if (!failure) {
        report.unrecognised++;
        keep.push(m);
        continue;
      }
      const batch = await replayBatch(t, o, failure);
      report.batches.push(batch);
      // Deleted one by one, right after its records are back: a crash here replays at most this range again.
      if (batch.outcome === 'replayed') await deleteMessages(t.sqs, t.onFailureQueueUrl, [m]);
      else keep.push(m);
    }
  } finally {
    await releaseMessages(t.sqs, t.onFailureQueueUrl, keep);
  }
}

async function replayBatch(t: IngestRedriveTarget, o: IngestRedriveOptions, failure: OnFailureMessage): Promise<BatchRedrive> {
  const info = failure.KinesisBatchInfo;
  const base = {
    shardId: info.shardId,
    startSequenceNumber: info.startSequenceNumber,
    endSequenceNumber: info.endSequenceNumber,
    condition: failure.requestContext.condition,
    batchSize: info.batchSize,
  };
  const sourceStream = streamNameFromArn(info.streamArn);
  const range = await readSequenceRange(t.kinesis, sourceStream, info.shardId, info.startSequenceNumber, info.endSequenceNumber, o.range);
  const read = range.records.length;
  if (!range.complete || read !== info.batchSize) {
    return { ...base, read, put: 0, outcome: 'incomplete', detail: `read ${read} of ${info.batchSize} records: the range is no longer (fully) in the stream` };
  }
  if (o.dryRun) return { ...base, read, put: 0, outcome: 'dry-run' };
  const result = await putRecords(
    t.kinesis,
    t.streamName ?? sourceStream,
    range.records.map((r) => ({ data: r.data, partitionKey: r.partitionKey })),
    o.put,
  );
  if (result.failed.length > 0) {
    const codes = [...new Set(result.failed.map((f) => f.errorCode))].join(', ');
    return { ...base, read, put: result.sent, outcome: 'put-failed', detail: `${result.failed.length} record(s) not accepted (${codes}); kept for the next run` };
  }
  return { ...base, read, put: result.sent, outcome: 'replayed' };
}

/** Enough of the payload to recognise it, as one printable line whatever the bytes are. */
export function payloadPreview(data: string): string {
  const canonical = data.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(data);
  const text = canonical ? Buffer.from(data, 'base64').toString('utf8') : `(not base64) ${data}`;
  const escaped = JSON.stringify(text.slice(0, PREVIEW_CHARS)).slice(1, -1);
  return text.length > PREVIEW_CHARS ? `${escaped}…` : escaped;
}
