import { PutRecordsCommand, type PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { chunk } from './chunks.ts';
import { aggregate, type Aggregate } from './kpl/aggregate.ts';
import { pause, type BackoffOptions } from './retry.ts';

export interface PutEntry {
  data: Uint8Array;
  partitionKey: string;
  /** Overrides the partition key's hash for choosing the shard. */
  explicitHashKey?: string;
}

export interface PutFailure {
  /** position of the entry in the array given to putRecords */
  index: number;
  partitionKey: string;
  errorCode: string;
  errorMessage?: string;
}

/**
 * `sent` and `failed` count the entries given (with aggregation too: a failure names every entry
 * of the aggregate that failed); `kinesisRecords`, `retries` and `throttled` count Kinesis records,
 * which are the entries themselves unless they were aggregated.
 */
export interface PutResult {
  sent: number;
  failed: PutFailure[];
  /** Kinesis records the stream accepted: `sent` plain, one per aggregate aggregated. */
  kinesisRecords: number;
  /** Kinesis records resent (one resent twice counts 2) */
  retries: number;
  /** Kinesis record results, over all attempts, that Kinesis refused for throughput */
  throttled: number;
}

/** maxAttempts counts the first attempt (default 8, base 50 ms, cap 2 s); sleep and random are injectable. */
export interface PutOptions extends Partial<BackoffOptions> {
  maxRecordsPerRequest?: number;
  maxBytesPerRequest?: number;
  /**
   * Pack the entries into KPL aggregated records, one partition key per aggregate, at most one
   * PUT payload unit each (kpl/aggregate.ts). A failed aggregate is resent whole: Kinesis accepts
   * or refuses a record, never part of one.
   */
  aggregate?: boolean;
}

/** The one call this module makes; a KinesisClient satisfies it, and so does a test fake. */
export interface PutRecordsClient {
  send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput>;
}

export const PUT_RECORDS_MAX_RECORDS = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;
const THROTTLED = 'ProvisionedThroughputExceededException';
/** Whole-request errors that are the caller's fault but still worth retrying. */
const RETRYABLE_CLIENT_ERRORS = new Set([THROTTLED, 'LimitExceededException', 'ThrottlingException', 'KMSThrottlingException']);

type Settings = BackoffOptions & Required<Pick<PutOptions, 'maxRecordsPerRequest' | 'maxBytesPerRequest'>>;

const DEFAULTS: Settings = {
  maxAttempts: 8,
  baseDelayMs: 50,
  maxDelayMs: 2_000,
  maxRecordsPerRequest: PUT_RECORDS_MAX_RECORDS,
  maxBytesPerRequest: PUT_RECORDS_MAX_BYTES,
};

type EntryError = Pick<PutFailure, 'errorCode' | 'errorMessage'>;

/**
 * Kinesis PutRecords with the service's rules: at most 500 records and 5 MiB per request, partial
 * failure is normal (the response array matches the request index for index), and only the failed
 * entries are resent, with exponential backoff and full jitter. What still fails after the last
 * attempt is returned to the caller, never dropped. With `aggregate`, the entries travel packed in
 * KPL aggregates and the result still speaks of them one by one.
 */
export async function putRecords(client: PutRecordsClient, streamName: string, entries: readonly PutEntry[], options: PutOptions = {}): Promise<PutResult> {
  const opts = { ...DEFAULTS, ...options };
  if (!Number.isInteger(opts.maxAttempts) || opts.maxAttempts < 1) throw new RangeError('maxAttempts must be an integer >= 1');
  if (!opts.aggregate) return putEach(client, streamName, entries, opts);
  const aggregates = aggregate(entries);
  const put = await putEach(client, streamName, aggregates, opts);
  const failed = put.failed.flatMap((f) => (aggregates[f.index] as Aggregate).members.map((index) => ({ ...f, index, partitionKey: (entries[index] as PutEntry).partitionKey })));
  return { ...put, sent: entries.length - failed.length, failed };
}

async function putEach(client: PutRecordsClient, streamName: string, entries: readonly PutEntry[], opts: Settings): Promise<PutResult> {
  const result: PutResult = { sent: 0, failed: [], kinesisRecords: 0, retries: 0, throttled: 0 };
  for (const chunk of chunkIndexes(entries, opts)) {
    await putChunk(client, streamName, entries, chunk, opts, result);
  }
  result.kinesisRecords = result.sent;
  return result;
}

/** Kinesis counts the data and the partition key (UTF-8) towards the request size. */
const entryBytes = (e: PutEntry): number => e.data.byteLength + Buffer.byteLength(e.partitionKey, 'utf8');

// An entry too large for any request still goes out alone: Kinesis's own refusal is reported.
const chunkIndexes = (entries: readonly PutEntry[], opts: Settings): number[][] =>
  chunk(entries.keys(), { maxItems: opts.maxRecordsPerRequest, maxBytes: opts.maxBytesPerRequest, bytes: (i) => entryBytes(entries[i] as PutEntry) });

async function putChunk(client: PutRecordsClient, streamName: string, entries: readonly PutEntry[], chunk: number[], opts: Settings, result: PutResult): Promise<void> {
  let pending = chunk;
  for (let attempt = 1; ; attempt++) {
    const { errors, retryable } = await attemptPut(client, streamName, entries, pending, result);
    pending = [...errors.keys()];
    if (pending.length === 0) return;
    if (!retryable || attempt >= opts.maxAttempts || !(await pause(attempt - 1, opts))) {
      for (const index of pending) {
        const entry = entries[index] as PutEntry;
        result.failed.push({ index, partitionKey: entry.partitionKey, ...(errors.get(index) as EntryError) });
      }
      return;
    }
    result.retries += pending.length;
  }
}

async function attemptPut(
  client: PutRecordsClient,
  streamName: string,
  entries: readonly PutEntry[],
  pending: number[],
  result: PutResult,
): Promise<{ errors: Map<number, EntryError>; retryable: boolean }> {
  const errors = new Map<number, EntryError>();
  const records = pending.map((i) => {
    const entry = entries[i] as PutEntry;
    return { Data: entry.data, PartitionKey: entry.partitionKey, ...(entry.explicitHashKey === undefined ? {} : { ExplicitHashKey: entry.explicitHashKey }) };
  });
  let output: PutRecordsCommandOutput;
  try {
    output = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: records }));
  } catch (error) {
    const { name, message, fault } = describe(error);
    if (name === THROTTLED) result.throttled += pending.length;
    for (const index of pending) errors.set(index, { errorCode: name, errorMessage: message });
    return { errors, retryable: fault !== 'client' || RETRYABLE_CLIENT_ERRORS.has(name) };
  }
  pending.forEach((index, k) => {
    const entry = output.Records?.[k];
    if (entry?.SequenceNumber && !entry.ErrorCode) {
      result.sent += 1;
      return;
    }
    const errorCode = entry?.ErrorCode ?? 'MissingResult';
    if (errorCode === THROTTLED) result.throttled += 1;
    errors.set(index, { errorCode, errorMessage: entry ? entry.ErrorMessage : 'no result entry for this record' });
  });
  return { errors, retryable: true };
}

function describe(error: unknown): { name: string; message: string; fault: string | undefined } {
  if (!(error instanceof Error)) return { name: 'UnknownError', message: String(error), fault: undefined };
  const fault = (error as { $fault?: unknown }).$fault;
  return { name: error.name, message: error.message, fault: typeof fault === 'string' ? fault : undefined };
}
