import { ListShardsCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { LambdaInvoker } from './invoker.ts';
import { ShardPoller, type MappingTiming, type ShardProgress } from './kinesisShard.ts';
import { executionRoleArn, functionArn } from './localArns.ts';
import { checkSettings, KinesisMappingSettingsSchema, type KinesisMappingSettings } from './mappingSettings.ts';
import { Sleeper } from './sleeper.ts';

export type { KinesisMappingSettings } from './mappingSettings.ts';
export type { MappingTiming, ShardProgress } from './kinesisShard.ts';

export interface KinesisEventSourceOptions {
  kinesis: KinesisClient;
  sqs: SQSClient;
  streamName: string;
  streamArn: string;
  region: string;
  /** The function the mapping invokes: names its ARN and execution role in events and OnFailure messages. */
  functionName: string;
  settings: KinesisMappingSettings;
  invoke: LambdaInvoker<KinesisStreamEvent, KinesisStreamBatchResponse | void>;
  onFailureQueueUrl: string;
  /** Poll interval, backoff and clock; the defaults suit a live run, tests shorten them. */
  timing?: Partial<MappingTiming>;
  /** What one record's data holds, for the progress counters (default 1: a record is a record). */
  units?: (data: Uint8Array) => number;
}

const DEFAULT_TIMING: MappingTiming = { pollIntervalMs: 100, retryBaseMs: 50, retryMaxMs: 1_000, shardDiscoveryMs: 1_000, now: Date.now };

/**
 * Emulates a Lambda event source mapping on a Kinesis stream (aws-semantics.md, docs/local-event-source-mappings.md):
 * one poller per shard, ParallelizationFactor lanes per shard, partial batch responses, bisect,
 * retry and age limits, OnFailure metadata messages; new shards from resharding are found with
 * ListShards, and a child shard is read only once its parents are fully processed, as Lambda does.
 */
export class KinesisEventSource {
  /** Progress per shard, including shards still waiting for their parents. */
  readonly shards = new Map<string, ShardProgress>();
  private readonly settings: KinesisMappingSettings;
  private readonly timing: MappingTiming;
  private readonly sleeper = new Sleeper();
  private readonly parents = new Map<string, string[]>();
  private readonly pollers = new Map<string, ShardPoller>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly closed = new Set<string>();
  private supervisor: Promise<void> | undefined;
  private stopping = false;
  private halted = false;
  private failure: unknown;

  constructor(private readonly o: KinesisEventSourceOptions) {
    this.settings = checkSettings(KinesisMappingSettingsSchema, 'Kinesis', o.settings);
    this.timing = { ...DEFAULT_TIMING, ...o.timing };
  }

  /** Lists the shards and starts polling those without unfinished parents. */
  async start(): Promise<void> {
    await this.discover();
    this.startReady();
    this.supervisor = this.supervise();
  }

  /**
   * Stops once every record read so far, and every record up to the tip of each shard, is
   * acknowledged. `drain: false` stops at once instead (after the invocations in flight return).
   * Rejects if a poller failed for a reason of its own (never for a function error).
   */
  async stop(o: { drain?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (o.drain === false) this.halted = true;
    for (const poller of this.pollers.values()) poller.requestStop();
    this.sleeper.wakeAll();
    await this.supervisor;
    if (this.failure !== undefined) throw this.failure;
  }

  /** True when every record that arrived has been acknowledged. */
  caughtUp(): boolean {
    return [...this.shards.values()].every((s) => s.done === s.read);
  }

  private async supervise(): Promise<void> {
    while (!this.halted) {
      await this.sleeper.sleep(this.timing.shardDiscoveryMs);
      if (this.halted) break;
      await this.discover();
      this.startReady();
      if (this.stopping && this.running.size === 0 && !this.anyReady()) break;
    }
    await Promise.all(this.running.values());
  }

  /** Registers shards ListShards reports that the mapping does not know yet; a failed call is tried again on the next round. */
  private async discover(): Promise<void> {
    const shards: Shard[] = [];
    try {
      let token: string | undefined;
      do {
        const page = await this.o.kinesis.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.o.streamName }));
        shards.push(...(page.Shards ?? []));
        token = page.NextToken;
      } while (token);
    } catch {
      return; // throttled or unreachable: the supervisor lists again after shardDiscoveryMs
    }
    for (const shard of shards) {
      if (!shard.ShardId || this.parents.has(shard.ShardId)) continue;
      this.parents.set(
        shard.ShardId,
        [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => !!p),
      );
      const poller = new ShardPoller(shard.ShardId, {
        kinesis: this.o.kinesis,
        sqs: this.o.sqs,
        streamName: this.o.streamName,
        source: {
          streamArn: this.o.streamArn,
          region: this.o.region,
          functionArn: functionArn(this.o.region, this.o.functionName),
          roleArn: executionRoleArn(this.o.functionName),
        },
        settings: this.settings,
        invoke: this.o.invoke,
        onFailureQueueUrl: this.o.onFailureQueueUrl,
        timing: this.timing,
        sleeper: this.sleeper,
        units: this.o.units ?? (() => 1),
        stopping: () => this.stopping,
        halted: () => this.halted,
      });
      this.pollers.set(shard.ShardId, poller);
      this.shards.set(shard.ShardId, poller.progress);
    }
  }

  /** A shard is ready when each parent it names is closed and fully processed, or unknown (trimmed away). */
  private isReady(shardId: string): boolean {
    if (this.running.has(shardId) || this.closed.has(shardId) || this.pollers.get(shardId)?.progress.state !== 'waiting') return false;
    return (this.parents.get(shardId) ?? []).every((p) => !this.parents.has(p) || this.closed.has(p));
  }

  private anyReady(): boolean {
    return [...this.pollers.keys()].some((id) => this.isReady(id));
  }

  private startReady(): void {
    if (this.halted) return;
    for (const [shardId, poller] of this.pollers) {
      if (!this.isReady(shardId)) continue;
      const run = poller
        .run()
        .then(
          (outcome) => {
            if (outcome === 'closed') this.closed.add(shardId);
          },
          (e: unknown) => {
            this.failure ??= e;
            this.halted = true;
          },
        )
        .finally(() => {
          this.running.delete(shardId);
          // A parent just finished: its children may start now, not a discovery interval later.
          this.startReady();
          this.sleeper.wakeAll();
        });
      this.running.set(shardId, run);
    }
  }
}
