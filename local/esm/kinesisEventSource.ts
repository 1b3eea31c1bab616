import { randomUUID } from 'node:crypto';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient, type _Record } from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { compareSequence } from '#core/reading';
import type { LambdaInvoker } from './invoker.ts';

/** The event source mapping settings that shape batching and failure handling (aws-semantics.md). */
export interface KinesisMappingSettings {
  batchSize: number;
  batchWindowSeconds: number;
  bisectOnError: boolean;
  /** -1: until the record expires. */
  maxRetryAttempts: number;
  /** -1: no limit. */
  maxRecordAgeSeconds: number;
}

export interface KinesisEventSourceOptions {
  kinesis: KinesisClient;
  sqs: SQSClient;
  streamName: string;
  streamArn: string;
  region: string;
  settings: KinesisMappingSettings;
  invoke: LambdaInvoker<KinesisStreamEvent, KinesisStreamBatchResponse | void>;
  onFailureQueueUrl: string;
  functionArn: string;
}

export interface ShardProgress {
  /** Records read from the stream (= produced and arrived). */
  read: number;
  /** Records acknowledged: succeeded, or sent to the OnFailure destination. */
  done: number;
  invocations: number;
  failedInvocations: number;
  bisects: number;
  discardedToOnFailure: number;
  /** Age of the oldest record not yet acknowledged (like Lambda's IteratorAge). */
  lagMs: number;
  maxLagMs: number;
}

type Condition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const POLL_IDLE_MS = 100;

/**
 * Emulates a Lambda event source mapping on a Kinesis stream: one poller per shard, batches in
 * sequence order, full/window/6 MB cut-off, ReportBatchItemFailures checkpointing at the lowest
 * failed sequence number, bisect on function error, bounded retries and record age, and an
 * OnFailure message carrying metadata only (never the payload), exactly as AWS sends it.
 */
export class KinesisEventSource {
  readonly shards = new Map<string, ShardProgress>();
  private stopping = false;
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly o: KinesisEventSourceOptions) {}

  async start(): Promise<void> {
    const { Shards } = await this.o.kinesis.send(new ListShardsCommand({ StreamName: this.o.streamName }));
    for (const shard of Shards ?? []) {
      if (!shard.ShardId) continue;
      const progress: ShardProgress = { read: 0, done: 0, invocations: 0, failedInvocations: 0, bisects: 0, discardedToOnFailure: 0, lagMs: 0, maxLagMs: 0 };
      this.shards.set(shard.ShardId, progress);
      this.loops.push(this.pollShard(shard.ShardId, progress));
    }
  }

  /** Stops after the in-flight batch once every record read so far is acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** True when every record that arrived has been acknowledged and nothing new is arriving. */
  caughtUp(): boolean {
    return [...this.shards.values()].every((s) => s.done === s.read);
  }

  private async pollShard(shardId: string, progress: ShardProgress): Promise<void> {
    const it = await this.o.kinesis.send(
      new GetShardIteratorCommand({ StreamName: this.o.streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    let iterator = it.ShardIterator;
    const buffer: _Record[] = [];
    let windowStart: number | undefined;
    while (iterator && !(this.stopping && buffer.length === 0 && progress.done === progress.read)) {
      const out = await this.o.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      iterator = out.NextShardIterator;
      const records = out.Records ?? [];
      buffer.push(...records);
      progress.read += records.length;
      if (buffer.length > 0) windowStart ??= Date.now();
      this.updateLag(progress, buffer);
      const windowOver = windowStart !== undefined && Date.now() - windowStart >= this.o.settings.batchWindowSeconds * 1000;
      if (buffer.length >= this.o.settings.batchSize || (buffer.length > 0 && (windowOver || this.stopping))) {
        const batch = takeBatch(buffer, this.o.settings.batchSize);
        await this.deliver(shardId, batch, progress);
        windowStart = buffer.length > 0 ? Date.now() : undefined;
        this.updateLag(progress, buffer);
        continue;
      }
      if (records.length === 0) await sleep(POLL_IDLE_MS);
    }
  }

  /** Delivers one batch until every record is acknowledged or discarded to the OnFailure queue. */
  private async deliver(shardId: string, batch: _Record[], progress: ShardProgress): Promise<void> {
    const queue: Array<{ records: _Record[]; attempts: number }> = [{ records: batch, attempts: 0 }];
    while (queue.length > 0) {
      const item = queue.shift()!;
      const expired = this.expired(item.records);
      if (expired.length > 0) {
        await this.sendOnFailure(shardId, expired, 'RecordAgeExceeded', item.attempts, progress);
        item.records = item.records.slice(expired.length);
        if (item.records.length === 0) continue;
      }
      progress.invocations++;
      const outcome = await this.invokeBatch(shardId, item.records);
      if (outcome.ok && outcome.failedFrom === undefined) {
        progress.done += item.records.length;
        continue;
      }
      progress.failedInvocations++;
      if (outcome.ok) {
        // Partial response: everything before the lowest failed record is checkpointed.
        const from = item.records.findIndex((r) => r.SequenceNumber === outcome.failedFrom);
        progress.done += from;
        item.records = item.records.slice(from);
      }
      const attempts = item.attempts + 1;
      const exhausted = this.o.settings.maxRetryAttempts !== -1 && attempts > this.o.settings.maxRetryAttempts;
      if (!outcome.ok && this.o.settings.bisectOnError && item.records.length > 1) {
        // A split is not a retry: both halves keep the attempts counted so far.
        const mid = Math.ceil(item.records.length / 2);
        progress.bisects++;
        queue.unshift({ records: item.records.slice(0, mid), attempts: item.attempts }, { records: item.records.slice(mid), attempts: item.attempts });
      } else if (exhausted) {
        await this.sendOnFailure(shardId, item.records, 'RetryAttemptsExhausted', attempts, progress);
      } else {
        await sleep(Math.min(1_000, 50 * 2 ** attempts));
        queue.unshift({ records: item.records, attempts });
      }
    }
  }

  private async invokeBatch(shardId: string, records: _Record[]): Promise<{ ok: true; failedFrom?: string } | { ok: false }> {
    let response: KinesisStreamBatchResponse | void;
    try {
      response = await this.o.invoke(this.event(shardId, records));
    } catch {
      return { ok: false }; // a function error: the mapping retries or bisects (the invoker logged it)
    }
    const failures = response?.batchItemFailures;
    if (!failures || failures.length === 0) return { ok: true };
    const ids = failures.map((f) => f.itemIdentifier);
    // An empty/unknown identifier is treated by Lambda as a failure of the whole batch.
    if (ids.some((id) => !id || !records.some((r) => r.SequenceNumber === id))) return { ok: false };
    return { ok: true, failedFrom: [...ids].sort(compareSequence)[0] };
  }

  private expired(records: _Record[]): _Record[] {
    const limit = this.o.settings.maxRecordAgeSeconds;
    if (limit === -1) return [];
    const cutoff = Date.now() - limit * 1000;
    const firstFresh = records.findIndex((r) => (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) >= cutoff);
    return records.slice(0, firstFresh === -1 ? records.length : firstFresh);
  }

  private async sendOnFailure(shardId: string, records: _Record[], condition: Condition, attempts: number, progress: ShardProgress) {
    const first = records[0]!;
    const last = records[records.length - 1]!;
    const body = {
      requestContext: { requestId: randomUUID(), functionArn: this.o.functionArn, condition, approximateInvokeCount: attempts },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.SequenceNumber,
        endSequenceNumber: last.SequenceNumber,
        approximateArrivalOfFirstRecord: first.ApproximateArrivalTimestamp?.toISOString(),
        approximateArrivalOfLastRecord: last.ApproximateArrivalTimestamp?.toISOString(),
        batchSize: records.length,
        streamArn: this.o.streamArn,
      },
    };
    await this.o.sqs.send(new SendMessageCommand({ QueueUrl: this.o.onFailureQueueUrl, MessageBody: JSON.stringify(body) }));
    progress.discardedToOnFailure += records.length;
    progress.done += records.length;
  }

  private event(shardId: string, records: _Record[]): KinesisStreamEvent {
    return {
      Records: records.map(
        (r): KinesisStreamRecord => ({
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: r.PartitionKey ?? '',
            sequenceNumber: r.SequenceNumber ?? '',
            data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
            approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `${shardId}:${r.SequenceNumber ?? ''}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: `${this.o.functionArn}-role`,
          awsRegion: this.o.region,
          eventSourceARN: this.o.streamArn,
        }),
      ),
    };
  }

  private updateLag(progress: ShardProgress, pending: _Record[]) {
    const oldest = pending[0]?.ApproximateArrivalTimestamp?.getTime();
    progress.lagMs = oldest === undefined ? 0 : Math.max(0, Date.now() - oldest);
    progress.maxLagMs = Math.max(progress.maxLagMs, progress.lagMs);
  }
}

/** Takes up to `size` records from the front, stopping before the synchronous-invoke 6 MB limit. */
function takeBatch(buffer: _Record[], size: number): _Record[] {
  let bytes = 0;
  let n = 0;
  while (n < buffer.length && n < size) {
    const b = Math.ceil(((buffer[n]!.Data?.length ?? 0) * 4) / 3) + 300;
    if (n > 0 && bytes + b > MAX_PAYLOAD_BYTES) break;
    bytes += b;
    n++;
  }
  return buffer.splice(0, n);
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));
