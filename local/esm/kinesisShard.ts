import { GetRecordsCommand, GetShardIteratorCommand, type GetRecordsCommandOutput, type KinesisClient, type _Record } from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { compareSequence } from '#core/reading';
import { backoffDelay } from '#core/retry';
import { readBatchResponse, type BatchVerdict } from './batchResponse.ts';
import { PayloadBudget } from './invokePayload.ts';
import type { LambdaInvoker } from './invoker.ts';
import { onFailureMessage, shardRecord, type DiscardCondition, type KinesisSource, type LastInvocation, type ShardRecord } from './kinesisRecords.ts';
import type { KinesisMappingSettings } from './mappingSettings.ts';
import type { Sleeper } from './sleeper.ts';

export interface ShardProgress {
  /** waiting: for its parent shards to be processed; ended: closed and every record acknowledged. */
  state: 'waiting' | 'reading' | 'stopped' | 'ended';
  /** Records read from the shard (each once, whatever happens to the iterator). */
  read: number;
  /** Records acknowledged: succeeded, or sent to the OnFailure destination. */
  done: number;
  invocations: number;
  failedInvocations: number;
  bisects: number;
  discardedToOnFailure: number;
  /** What `read` and `discardedToOnFailure` held, as the context's `units` counts (e.g. readings in KPL aggregates). */
  readUnits: number;
  discardedUnits: number;
  /** The last sequence number below the lowest record not yet acknowledged: where Lambda's checkpoint stands. */
  checkpoint?: string;
  /** Batches of this shard being processed right now, and the most at once. */
  inFlight: number;
  maxInFlight: number;
  /** Expired iterators replaced, and failed GetRecords / GetShardIterator calls retried. */
  iteratorRefreshes: number;
  readErrors: number;
  /** Age of the oldest record not yet acknowledged (like Lambda's IteratorAge). */
  lagMs: number;
  maxLagMs: number;
}

export interface MappingTiming {
  /** Wait between GetRecords calls at the tip of a shard (Lambda: about once a second). */
  pollIntervalMs: number;
  /** Exponential backoff (full jitter) for retried invocations and failed reads. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often ListShards looks for new shards (resharding). */
  shardDiscoveryMs: number;
  /** The clock for batching windows and record age: tests move it instead of waiting. */
  now: () => number;
}

/** What a shard poller shares with its mapping. */
export interface ShardContext {
  kinesis: KinesisClient;
  sqs: SQSClient;
  streamName: string;
  source: KinesisSource;
  settings: KinesisMappingSettings;
  invoke: LambdaInvoker<KinesisStreamEvent, KinesisStreamBatchResponse | void>;
  onFailureQueueUrl: string;
  timing: MappingTiming;
  sleeper: Sleeper;
  /** What one record holds, for the progress counters only (Lambda delivers records, not their contents). */
  units(data: Uint8Array): number;
  /** stop() was called: read to the tip, deliver without waiting for windows, then end. */
  stopping(): boolean;
  /** stop({ drain: false }): no further invocation or read. */
  halted(): boolean;
}

/** One of the shard's ParallelizationFactor batchers; a partition key always lands in the same one. */
interface Lane {
  buffer: ShardRecord[];
  busy: boolean;
  /** When the batch now gathering started (batching window). */
  windowStart: number;
}

/** A batch, or the part of one still to be delivered, and what has happened to its records so far. */
interface Pending {
  records: ShardRecord[];
  /** Failed invocations that counted as retries (a bisect is not a retry). */
  retries: number;
  invocations: number;
  last: LastInvocation;
}

type Outcome = BatchVerdict | { kind: 'function-error' };

/**
 * Reads one shard and delivers its records as Lambda does: in sequence order, in batches cut at
 * BatchSize, the batching window or 6 MB of serialized event; up to ParallelizationFactor batches
 * at once, records of one partition key always in one lane so their order holds; a failing batch
 * blocks its lane (with factor 1, the shard) until it succeeds, is bisected away, or is discarded
 * by the retry or age limits to the OnFailure destination.
 */
export class ShardPoller {
  readonly progress: ShardProgress = {
    state: 'waiting',
    read: 0,
    done: 0,
    invocations: 0,
    failedInvocations: 0,
    bisects: 0,
    discardedToOnFailure: 0,
    readUnits: 0,
    discardedUnits: 0,
    inFlight: 0,
    maxInFlight: 0,
    iteratorRefreshes: 0,
    readErrors: 0,
    lagMs: 0,
    maxLagMs: 0,
  };
  private readonly lanes: Lane[];
  /** Every record read and not yet acknowledged, in sequence order, from `head` on. */
  private outstanding: ShardRecord[] = [];
  private head = 0;
  private lastRead: string | undefined;
  private atTip = false;
  private closed = false;
  private draining = false;
  private failure: unknown;
  private readonly deliveries = new Set<Promise<void>>();

  constructor(
    readonly shardId: string,
    private readonly c: ShardContext,
  ) {
    this.lanes = Array.from({ length: c.settings.parallelizationFactor }, () => ({ buffer: [], busy: false, windowStart: 0 }));
  }

  /** Reads until the shard is closed (returns 'closed' once every record is acknowledged) or the mapping stops. */
  async run(): Promise<'closed' | 'stopped'> {
    this.progress.state = 'reading';
    await this.read();
    // Nothing more will arrive: deliver what is buffered without waiting for windows.
    this.draining = true;
    while (!this.c.halted() && this.failure === undefined && this.progress.done < this.progress.read) {
      this.pump();
      await this.c.sleeper.sleep(this.c.timing.pollIntervalMs);
    }
    await Promise.all(this.deliveries);
    if (this.failure !== undefined) throw this.failure;
    const closed = this.closed && this.progress.done === this.progress.read;
    this.progress.state = closed ? 'ended' : 'stopped';
    return closed ? 'closed' : 'stopped';
  }

  /** stop(): the reader must see the tip once more before it ends, so records put just before are read. */
  requestStop(): void {
    this.atTip = false;
  }

  private async read(): Promise<void> {
    let iterator = await this.iterator();
    let failures = 0;
    // Enough buffered to cut a full batch in every lane, plus one GetRecords page.
    const readAhead = this.c.settings.batchSize * this.c.settings.parallelizationFactor + 10_000;
    while (iterator !== undefined && !this.c.halted() && this.failure === undefined) {
      this.updateLag(); // a blocked lane's records grow older at every poll
      if (this.c.stopping() && this.atTip) return;
      if (this.buffered() >= readAhead) {
        await this.c.sleeper.sleep(this.c.timing.pollIntervalMs);
        continue;
      }
      let page: GetRecordsCommandOutput;
      try {
        page = await this.c.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        failures = 0;
      } catch (e) {
        if ((e as { name?: string }).name === 'ExpiredIteratorException') {
          // An iterator lives 5 minutes; a lane blocked longer than that leaves the reader holding a dead one.
          this.progress.iteratorRefreshes++;
          iterator = await this.iterator();
        } else {
          // Throttling (ProvisionedThroughputExceededException), service errors, the network: wait and read again.
          this.progress.readErrors++;
          await this.c.sleeper.sleep(this.backoff(failures++));
        }
        continue;
      }
      const records = page.Records ?? [];
      const now = this.c.timing.now();
      for (const r of records) this.accept(r, now);
      this.atTip = records.length === 0 && (page.MillisBehindLatest ?? 0) === 0;
      iterator = page.NextShardIterator;
      this.pump();
      // A closed shard hands out no next iterator once it has been read to its end.
      if (iterator === undefined) this.closed = true;
      else if (records.length === 0) await this.c.sleeper.sleep(this.c.timing.pollIntervalMs);
    }
  }

  /**
   * An iterator from the mapping's position: right after the last record read (every record after
   * the checkpoint is held in memory, so this equals re-reading from the checkpoint and skipping
   * what is held), or the trim horizon before anything was read.
   */
  private async iterator(): Promise<string | undefined> {
    for (let attempt = 0; !this.c.halted(); attempt++) {
      try {
        const position = this.lastRead
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, StartingSequenceNumber: this.lastRead }
          : { ShardIteratorType: 'TRIM_HORIZON' as const };
        const out = await this.c.kinesis.send(new GetShardIteratorCommand({ StreamName: this.c.streamName, ShardId: this.shardId, ...position }));
        return out.ShardIterator;
      } catch {
        this.progress.readErrors++;
        await this.c.sleeper.sleep(this.backoff(attempt));
      }
    }
    return undefined;
  }

  private accept(r: _Record, now: number): void {
    const record = shardRecord(this.shardId, r, this.c.source, now);
    this.outstanding.push(record);
    this.lastRead = record.sequenceNumber;
    this.progress.read++;
    record.units = this.c.units(r.Data ?? new Uint8Array());
    this.progress.readUnits += record.units;
    const lane = this.lanes[laneOf(record.partitionKey, this.lanes.length)]!;
    if (lane.buffer.length === 0 && !lane.busy) lane.windowStart = now;
    lane.buffer.push(record);
    this.updateLag();
  }

  private buffered(): number {
    return this.lanes.reduce((n, lane) => n + lane.buffer.length, 0);
  }

  /** Starts a batch in every idle lane whose batch is full, whose window is over, or that is draining. */
  private pump(): void {
    if (this.c.halted() || this.failure !== undefined) return;
    const now = this.c.timing.now();
    const windowMs = this.c.settings.batchWindowSeconds * 1000;
    for (const lane of this.lanes) {
      if (lane.busy || lane.buffer.length === 0) continue;
      const { count, full } = this.cut(lane.buffer);
      if (!full && now - lane.windowStart < windowMs && !this.draining && !this.c.stopping()) continue;
      const batch = lane.buffer.splice(0, count);
      lane.busy = true;
      this.progress.inFlight++;
      this.progress.maxInFlight = Math.max(this.progress.maxInFlight, this.progress.inFlight);
      const delivery: Promise<void> = this.deliver(batch)
        .then(
          () => {
            lane.busy = false;
            lane.windowStart = this.c.timing.now();
            this.progress.inFlight--;
            this.pump();
          },
          (e: unknown) => {
            // A bug in the emulator, not a function error: surface it from run() rather than lose the records silently.
            this.failure ??= e;
            this.c.sleeper.wakeAll();
          },
        )
        .finally(() => this.deliveries.delete(delivery));
      this.deliveries.add(delivery);
    }
  }

  /** How many records the next batch takes: BatchSize, or fewer where the serialized event would pass 6 MB. */
  private cut(buffer: readonly ShardRecord[]): { count: number; full: boolean } {
    const budget = new PayloadBudget();
    let count = 0;
    while (count < buffer.length && count < this.c.settings.batchSize && budget.fits(buffer[count]!.bytes)) {
      budget.add(buffer[count]!.bytes);
      count++;
    }
    return { count, full: count === this.c.settings.batchSize || count < buffer.length };
  }

  /** Delivers one batch until every record is acknowledged or discarded to the OnFailure destination. */
  private async deliver(batch: ShardRecord[]): Promise<void> {
    const { settings } = this.c;
    const queue: Pending[] = [{ records: batch, retries: 0, invocations: 0, last: undefined }];
    while (queue.length > 0 && !this.c.halted()) {
      const item = queue.shift()!;
      const expired = this.expiredPrefix(item.records);
      if (expired > 0) {
        await this.discard(item, item.records.slice(0, expired), 'RecordAgeExceeded');
        item.records = item.records.slice(expired);
        if (item.records.length === 0) continue;
      }
      const outcome = await this.invoke(item.records);
      item.invocations++;
      if (outcome.kind === 'success') {
        this.acknowledge(item.records);
        continue;
      }
      this.progress.failedInvocations++;
      item.last = outcome.kind === 'function-error' ? 'function-error' : 'returned';
      if (outcome.kind === 'partial') {
        // Lambda checkpoints at the lowest reported sequence number and retries every record from it
        // (with bisect on as well, that is where it splits: the records before it are done).
        const lowest = [...outcome.itemIdentifiers].sort(compareSequence)[0]!;
        const from = item.records.findIndex((r) => r.sequenceNumber === lowest);
        this.acknowledge(item.records.slice(0, from));
        item.records = item.records.slice(from);
      }
      if (outcome.kind === 'function-error' && settings.bisectOnError && item.records.length > 1) {
        // A split is not a retry: both halves keep the retries counted so far, and go at once.
        const mid = Math.ceil(item.records.length / 2);
        this.progress.bisects++;
        queue.unshift({ ...item, records: item.records.slice(0, mid) }, { ...item, records: item.records.slice(mid) });
        continue;
      }
      item.retries++;
      if (settings.maxRetryAttempts !== -1 && item.retries > settings.maxRetryAttempts) {
        await this.discard(item, item.records, 'RetryAttemptsExhausted');
        continue;
      }
      await this.c.sleeper.sleep(this.backoff(item.retries - 1));
      queue.unshift(item);
    }
  }

  private async invoke(records: readonly ShardRecord[]): Promise<Outcome> {
    this.progress.invocations++;
    let response: unknown;
    try {
      response = await this.c.invoke({ Records: records.map((r) => r.event) });
    } catch {
      return { kind: 'function-error' }; // the invoker has reported it; the mapping retries or bisects
    }
    const inBatch = new Set(records.map((r) => r.sequenceNumber));
    return readBatchResponse(response, (id) => inBatch.has(id), this.c.settings.reportBatchItemFailures);
  }

  /** The leading records older than MaximumRecordAgeInSeconds (a shard's records arrive in order). */
  private expiredPrefix(records: readonly ShardRecord[]): number {
    const limit = this.c.settings.maxRecordAgeSeconds;
    if (limit === -1) return 0;
    const cutoff = this.c.timing.now() - limit * 1000;
    const firstFresh = records.findIndex((r) => r.arrivalMs >= cutoff);
    return firstFresh === -1 ? records.length : firstFresh;
  }

  /** Hands records to the OnFailure destination, retrying until the queue takes the message: they are acknowledged only then. */
  private async discard(item: Pending, records: ShardRecord[], condition: DiscardCondition): Promise<void> {
    const body = onFailureMessage(this.shardId, records, {
      source: this.c.source,
      condition,
      invocations: item.invocations,
      last: item.last,
      nowMs: this.c.timing.now(),
    });
    for (let attempt = 0; !this.c.halted(); attempt++) {
      try {
        await this.c.sqs.send(new SendMessageCommand({ QueueUrl: this.c.onFailureQueueUrl, MessageBody: body }));
        this.progress.discardedToOnFailure += records.length;
        this.progress.discardedUnits += records.reduce((a, r) => a + r.units, 0);
        this.acknowledge(records);
        return;
      } catch {
        await this.c.sleeper.sleep(this.backoff(attempt));
      }
    }
  }

  private acknowledge(records: readonly ShardRecord[]): void {
    for (const r of records) r.done = true;
    this.progress.done += records.length;
    while (this.head < this.outstanding.length && this.outstanding[this.head]!.done) {
      this.progress.checkpoint = this.outstanding[this.head]!.sequenceNumber;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.outstanding.length) {
      this.outstanding = this.outstanding.slice(this.head);
      this.head = 0;
    }
    this.updateLag();
  }

  private updateLag(): void {
    const oldest = this.outstanding[this.head]?.arrivalMs;
    this.progress.lagMs = oldest === undefined ? 0 : Math.max(0, this.c.timing.now() - oldest);
    this.progress.maxLagMs = Math.max(this.progress.maxLagMs, this.progress.lagMs);
  }

  private backoff(attempt: number): number {
    return backoffDelay(attempt, { maxAttempts: Infinity, baseDelayMs: this.c.timing.retryBaseMs, maxDelayMs: this.c.timing.retryMaxMs });
  }
}

/** A stable lane per partition key (FNV-1a), so one key's records never run in two batches at once. */
function laneOf(partitionKey: string, lanes: number): number {
  if (lanes === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < partitionKey.length; i++) hash = Math.imul(hash ^ partitionKey.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}
