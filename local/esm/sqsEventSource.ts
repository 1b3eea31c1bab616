import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { backoffDelay } from '#core/retry';
import { readBatchResponse } from './batchResponse.ts';
import { PayloadBudget, serializedBytes } from './invokePayload.ts';
import type { LambdaInvoker } from './invoker.ts';
import { checkSettings, InvalidMappingError, SqsMappingSettingsSchema, type SqsMappingSettings } from './mappingSettings.ts';
import { Sleeper } from './sleeper.ts';
import { sqsRecord } from './sqsRecords.ts';
import { chunk } from '#core/chunks';
import { SQS_BATCH } from '#core/queue';

export type { SqsMappingSettings } from './mappingSettings.ts';

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  settings: SqsMappingSettings;
  invoke: LambdaInvoker<SQSEvent, SQSBatchResponse | void>;
  timing?: Partial<SqsTiming>;
}

export interface SqsProgress {
  /** Messages delivered in batches (a message received again counts again). */
  received: number;
  deleted: number;
  /** Messages left in the queue for redelivery: a failed batch, or items the function reported. */
  failed: number;
  invocations: number;
  /** Batches being processed right now, and the most at once (never above MaximumConcurrency). */
  inFlight: number;
  maxInFlight: number;
  receiveErrors: number;
  /** Deletes that still failed after retrying: those messages come back after their visibility timeout. */
  deleteErrors: number;
  /** The visibility timeout the mapping receives with: the queue's, or window + timeout + 30 s when that is longer. */
  visibilityTimeoutSeconds: number;
}

export interface SqsTiming {
  /** ReceiveMessage WaitTimeSeconds while the queue is empty (Lambda long-polls); 0 polls every `idlePollMs`. */
  longPollSeconds: number;
  idlePollMs: number;
  /** Backoff (full jitter) after a failed ReceiveMessage or DeleteMessageBatch. */
  retryBaseMs: number;
  retryMaxMs: number;
}

const DEFAULT_TIMING: SqsTiming = { longPollSeconds: 1, idlePollMs: 20, retryBaseMs: 50, retryMaxMs: 1_000 };

interface Received {
  message: Message;
  record: SQSRecord;
}

/** Lambda's margin when the queue's visibility timeout is shorter than batching window + function timeout (with-sqs). */
const VISIBILITY_MARGIN_SECONDS = 30;
const DELETE_ATTEMPTS = 3;

/**
 * Emulates a Lambda event source mapping on a standard (or FIFO) SQS queue: up to MaximumConcurrency
 * pollers, each gathering a batch of up to BatchSize messages within the batching window and 6 MB
 * of serialized event, invoking, and deleting what succeeded. Failed messages are simply not
 * deleted: they come back after the visibility timeout, and the queue's own RedrivePolicy moves
 * them to the dead-letter queue after maxReceiveCount, as in AWS.
 */
export class SqsEventSource {
  readonly progress: SqsProgress = {
    received: 0,
    deleted: 0,
    failed: 0,
    invocations: 0,
    inFlight: 0,
    maxInFlight: 0,
    receiveErrors: 0,
    deleteErrors: 0,
    visibilityTimeoutSeconds: 0,
  };
  private readonly settings: SqsMappingSettings;
  private readonly sleeper = new Sleeper();
  private readonly timing: SqsTiming;
  private receiveVisibility: number | undefined;
  private stopping = false;
  private workers: Promise<void>[] = [];

  constructor(private readonly o: SqsEventSourceOptions) {
    this.settings = checkSettings(SqsMappingSettingsSchema, 'SQS', o.settings);
    this.timing = { ...DEFAULT_TIMING, ...o.timing };
  }

  /** Reads the queue's settings, then starts MaximumConcurrency pollers. */
  async start(): Promise<void> {
    const { Attributes = {} } = await this.o.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.o.queueUrl, AttributeNames: ['VisibilityTimeout', 'FifoQueue'] }));
    const { batchSize, batchWindowSeconds, functionTimeoutSeconds } = this.settings;
    if (Attributes.FifoQueue === 'true' && (batchSize > 10 || batchWindowSeconds > 0)) {
      throw new InvalidMappingError('invalid SQS event source mapping: a FIFO queue takes batches of at most 10 and no batching window');
    }
    const queueVisibility = Number(Attributes.VisibilityTimeout ?? 30);
    const needed = batchWindowSeconds + functionTimeoutSeconds;
    // With a shorter visibility timeout a message would come back while its batch is still gathering
    // or running; Lambda then uses window + timeout + 30 s for the batch instead.
    this.receiveVisibility = needed > queueVisibility ? needed + VISIBILITY_MARGIN_SECONDS : undefined;
    this.progress.visibilityTimeoutSeconds = this.receiveVisibility ?? queueVisibility;
    this.workers = Array.from({ length: this.settings.maxConcurrency }, () => this.work());
  }

  /** Stops after the batches in flight; messages not yet received stay in the queue. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.sleeper.wakeAll();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    let carried: Received[] = [];
    while (!this.stopping || carried.length > 0) {
      const { batch, rest } = await this.gather(carried);
      carried = rest;
      if (batch.length > 0) await this.process(batch);
    }
  }

  /**
   * Gathers one batch: until BatchSize, the end of the window, or the 6 MB payload. A message that
   * no longer fits is carried to this poller's next batch (it is received, so it is not returned to
   * the queue, which would count a receive against maxReceiveCount). A message received twice
   * keeps only its latest receipt, which is the one SQS deletes with.
   */
  private async gather(carried: readonly Received[]): Promise<{ batch: Received[]; rest: Received[] }> {
    const { batchSize, batchWindowSeconds } = this.settings;
    const batch = new Map<string, Received>();
    const budget = new PayloadBudget();
    const rest: Received[] = [];
    let windowEnd: number | undefined;
    const add = (r: Received) => {
      const id = r.record.messageId;
      if (batch.has(id)) return void batch.set(id, r);
      const bytes = serializedBytes(r.record);
      if (rest.length > 0 || batch.size >= batchSize || !budget.fits(bytes)) return void rest.push(r);
      budget.add(bytes);
      batch.set(id, r);
      windowEnd ??= Date.now() + batchWindowSeconds * 1000;
    };
    carried.forEach(add);
    for (let failures = 0; rest.length === 0 && batch.size < batchSize;) {
      const left = windowEnd === undefined ? Infinity : windowEnd - Date.now();
      if (left <= 0 || (this.stopping && batch.size === 0)) break;
      let messages: Message[];
      try {
        const out = await this.o.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.o.queueUrl,
            MaxNumberOfMessages: Math.min(10, batchSize - batch.size),
            // Short long-polls, so stop() is prompt and the window is kept to within a few tens of ms.
            WaitTimeSeconds: this.stopping || left < 1_000 ? 0 : this.timing.longPollSeconds,
            ...(this.receiveVisibility !== undefined ? { VisibilityTimeout: this.receiveVisibility } : {}),
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        messages = out.Messages ?? [];
        failures = 0;
      } catch {
        this.progress.receiveErrors++;
        await this.sleeper.sleep(this.backoff(failures++));
        continue;
      }
      for (const m of messages) add({ message: m, record: sqsRecord(m, this.o.queueArn, this.o.region) });
      if (batch.size > 0 && batchWindowSeconds === 0) break; // no window: one receive makes the batch
      if (messages.length === 0 && (left < 1_000 || this.timing.longPollSeconds === 0)) {
        await this.sleeper.sleep(Math.min(left, this.timing.idlePollMs));
      }
    }
    return { batch: [...batch.values()], rest };
  }

  private async process(batch: readonly Received[]): Promise<void> {
    this.progress.received += batch.length;
    this.progress.invocations++;
    this.progress.inFlight++;
    this.progress.maxInFlight = Math.max(this.progress.maxInFlight, this.progress.inFlight);
    const failed = await this.failedIds(batch.map((r) => r.record));
    this.progress.inFlight--;
    this.progress.failed += failed.size;
    await this.delete(batch.filter((r) => !failed.has(r.record.messageId)).map((r) => r.message));
  }

  /** The messages to leave in the queue. A function error or an unreadable response fails the whole batch. */
  private async failedIds(records: SQSRecord[]): Promise<Set<string>> {
    const all = new Set(records.map((r) => r.messageId));
    let response: unknown;
    try {
      response = await this.o.invoke({ Records: records });
    } catch {
      return all; // the invoker has reported it; the messages come back after the visibility timeout
    }
    const verdict = readBatchResponse(response, (id) => all.has(id), this.settings.reportBatchItemFailures);
    if (verdict.kind === 'success') return new Set();
    return verdict.kind === 'partial' ? new Set(verdict.itemIdentifiers) : all;
  }

  private async delete(messages: readonly Message[]): Promise<void> {
    for (const group of chunk(messages, { maxItems: SQS_BATCH })) {
      let entries = group.map((m, j) => ({ Id: `m${j}`, ReceiptHandle: m.ReceiptHandle }));
      for (let attempt = 0; entries.length > 0; attempt++) {
        let failed: Set<string>;
        try {
          const out = await this.o.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: entries }));
          failed = new Set((out.Failed ?? []).map((f) => f.Id ?? ''));
        } catch {
          failed = new Set(entries.map((e) => e.Id));
        }
        this.progress.deleted += entries.length - failed.size;
        entries = entries.filter((e) => failed.has(e.Id));
        if (entries.length === 0) break;
        if (attempt + 1 >= DELETE_ATTEMPTS) {
          this.progress.deleteErrors += entries.length;
          break;
        }
        await this.sleeper.sleep(this.backoff(attempt));
      }
    }
  }

  private backoff(attempt: number): number {
    return backoffDelay(attempt, { maxAttempts: Infinity, baseDelayMs: this.timing.retryBaseMs, maxDelayMs: this.timing.retryMaxMs });
  }
}
