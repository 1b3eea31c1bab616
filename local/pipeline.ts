import { join } from 'node:path';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { deaggregate } from '#core/kpl/deaggregate';
import { queueDepth, type LocalEnvironment } from './environment.ts';
import { KinesisEventSource } from './esm/kinesisEventSource.ts';
import { localInvoker, type FunctionSettings, type Handler } from './esm/invoker.ts';
import { startFunctionProcess, type FunctionProcess } from './services/functionProcess.ts';
import { SqsEventSource } from './esm/sqsEventSource.ts';
import { FunctionOutput } from './functionOutput.ts';

export interface PipelineSnapshot {
  elapsedMs: number;
  /** Records that arrived in the stream, readings in KPL aggregates counted one by one: what the simulator sent, and anything put from outside. */
  arrived: number;
  ingested: number;
  invalid: number;
  rowsWritten: number;
  duplicatesSkipped: number;
  derivedEvents: number;
  derivedWritten: number;
  lagMs: number;
  maxLagMs: number;
  functionErrors: number;
  dlq: { ingest: number; onFailure: number; events: number };
}

export interface PipelineSummary extends Omit<PipelineSnapshot, 'lagMs' | 'elapsedMs'> {
  /** Records the simulator sent (accepted by the stream). */
  produced: number;
  /** Of those, the records it made invalid on purpose (--invalid-rate). */
  invalidInjected: number;
  /** Invalid records that reached the ingest dead-letter queue during the run (its depth now minus at the start). */
  deadLettered: number;
  /** The most ingest batches one shard had in flight at once (at most the stage's parallelizationFactor). */
  maxBatchesPerShard: number;
  producerFailed: number;
  durationSeconds: number;
  rate: number;
  /**
   * arrived - (ingested + invalid + records sent to the OnFailure destination): counted from what
   * reached the stream, so a record put from outside is accounted for like the simulator's own.
   */
  unaccounted: number;
  database: { telemetryRows: number; ruleEvents: number; anomalyEvents: number };
}

/** The records a Kinesis record's data holds: an aggregate's user records, else one (a corrupt aggregate too). */
function readingsIn(data: Uint8Array): number {
  const unpacked = deaggregate(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return unpacked.kind === 'aggregate' ? unpacked.records.length : 1;
}

/** Fault-injection seams (test/faults): wrap a handler the way a crash or a bad deploy would change it. */
export interface PipelineHooks {
  wrapIngest?: (handler: Handler<KinesisStreamEvent, KinesisStreamBatchResponse>) => Handler<KinesisStreamEvent, KinesisStreamBatchResponse>;
  wrapWriter?: (handler: Handler<SQSEvent, SQSBatchResponse>) => Handler<SQSEvent, SQSBatchResponse>;
  /**
   * Run the simulator (the producer) in a process of its own, as its Lambda sandbox is: the bench's
   * throughput then measures the pipeline, not the producer's CPU beside it.
   */
  simulatorProcess?: boolean;
  /** Run each concurrent ingest invocation in a process of its own, as Lambda gives each batch a sandbox. */
  ingestProcesses?: boolean;
  /** What those processes import: the handlers' sources by default; the bench gives the Lambda bundles. */
  functionModules?: { simulator: URL; ingest: URL };
}

/** The simulator's invocations run as long as they produce: the kept process allows Lambda's maximum. */
const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

interface SimulatorResult {
  produced: number;
  sent: number;
  invalid: number;
  failed: number;
}

/**
 * The whole pipeline on one machine, with the real handlers: the simulator handler puts to the
 * stream, a local event source mapping drives the ingest handler, another drives the writer from
 * the events queue. Handlers are imported after their environment is set, as Lambda would.
 */
export class LocalPipeline {
  private readonly output: FunctionOutput;
  private kinesisSource?: KinesisEventSource;
  private sqsSource?: SqsEventSource;
  private functionErrors = 0;
  private readonly startedAt = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly periodicRuns: Promise<unknown>[] = [];
  /** A queue outside the embedded emulators (LocalStack) may hold messages of earlier runs. */
  private ingestDlqAtStart = 0;
  private simulatorProcess?: FunctionProcess<unknown, unknown>;
  private readonly ingestProcs: Array<FunctionProcess<KinesisStreamEvent, KinesisStreamBatchResponse>> = [];
  lastError: unknown;

  constructor(
    readonly env: LocalEnvironment,
    logFile: string,
    /** Scheduled work the stage runs beside the pipeline (in AWS: EventBridge-scheduled functions). */
    private readonly periodic: ReadonlyArray<{ name: string; everyMs: number; run: () => Promise<unknown> }> = [],
    private readonly hooks: PipelineHooks = {},
  ) {
    this.output = new FunctionOutput(logFile);
  }

  static logFileIn(dir: string): string {
    return join(dir, 'functions.log');
  }

  async start(): Promise<void> {
    Object.assign(process.env, this.env.functionEnv, { POWERTOOLS_DEV: 'false' });
    this.output.capture();
    const { config } = this.env;
    this.ingestDlqAtStart = await queueDepth(this.env.sqs, this.env.queues.ingestDlq);
    if (this.hooks.simulatorProcess) {
      // Started here and kept warm, as a sandbox between invocations: its cold start is not the pipeline's time.
      const settings = this.functionSettings('tapline-simulator', { timeoutSeconds: LAMBDA_MAX_TIMEOUT_SECONDS, memoryMb: config.simulator.memoryMb });
      const module = this.hooks.functionModules?.simulator ?? new URL('../functions/simulator/handler.ts', import.meta.url);
      this.simulatorProcess = await startFunctionProcess(module, settings, this.env.functionEnv);
    }
    const realIngest = (await import('../functions/ingest/handler.ts')).handler as unknown as Handler<KinesisStreamEvent, KinesisStreamBatchResponse>;
    const realWriter = (await import('../functions/writer/handler.ts')).handler as unknown as Handler<SQSEvent, SQSBatchResponse>;
    const ingest = this.hooks.wrapIngest?.(realIngest) ?? realIngest;
    const writer = this.hooks.wrapWriter?.(realWriter) ?? realWriter;
    const onError = (_fn: string, e: unknown) => {
      this.functionErrors++;
      this.lastError = e;
    };
    // The mappings as infra/stacks/tapline-stack.ts declares them, from the same stage settings.
    this.kinesisSource = new KinesisEventSource({
      kinesis: this.env.kinesis,
      sqs: this.env.sqs,
      streamName: this.env.streamName,
      streamArn: this.env.streamArn,
      region: this.env.region,
      functionName: 'tapline-ingest',
      settings: {
        batchSize: config.ingest.batchSize,
        batchWindowSeconds: config.ingest.batchWindowSeconds,
        parallelizationFactor: config.ingest.parallelizationFactor,
        bisectOnError: true,
        maxRetryAttempts: config.ingest.maxRetryAttempts,
        maxRecordAgeSeconds: config.ingest.maxRecordAgeSeconds,
        reportBatchItemFailures: true,
      },
      invoke: this.hooks.ingestProcesses
        ? await this.ingestPool(config.stream.shards * config.ingest.parallelizationFactor, onError)
        : localInvoker(this.functionSettings('tapline-ingest', config.ingest), ingest, onError),
      onFailureQueueUrl: this.env.queues.onFailure.url,
      units: readingsIn,
    });
    this.sqsSource = new SqsEventSource({
      sqs: this.env.sqs,
      queueUrl: this.env.queues.events.url,
      queueArn: this.env.queues.events.arn,
      region: this.env.region,
      settings: {
        batchSize: config.writer.batchSize,
        batchWindowSeconds: config.writer.batchWindowSeconds,
        maxConcurrency: config.writer.maxConcurrency,
        reportBatchItemFailures: true,
        functionTimeoutSeconds: config.writer.timeoutSeconds,
      },
      invoke: localInvoker(this.functionSettings('tapline-writer', config.writer), writer, onError),
    });
    await this.kinesisSource.start();
    await this.sqsSource.start();
    for (const task of this.periodic) {
      this.timers.push(setInterval(() => void this.runPeriodic(task), task.everyMs)); // runPeriodic never rejects: it counts a failure
    }
  }

  /** Runs every periodic task once more (after draining, so the summary sees up-to-date rollups). */
  async runPeriodicNow(): Promise<void> {
    await Promise.all(this.periodicRuns);
    for (const task of this.periodic) await this.runPeriodic(task);
  }

  private runPeriodic(task: { name: string; run: () => Promise<unknown> }): Promise<unknown> {
    const run = task.run().catch((e: unknown) => {
      this.functionErrors++;
      this.lastError = new Error(`${task.name} failed: ${(e as Error).message}`);
    });
    this.periodicRuns.push(run);
    return run;
  }

  /** Invokes the maintenance handler once, as its schedule does in AWS (outbox, then warehouse). */
  async maintain(): Promise<unknown> {
    const maintenance = (await import('../functions/maintenance/handler.ts')).handler as unknown as Handler<unknown, unknown>;
    return localInvoker(this.functionSettings('tapline-maintenance', this.env.config.maintenance), maintenance)({});
  }

  /**
   * Runs the simulator handler once, as the schedule would, for the given rate and duration;
   * `invalidRate` is the fraction of readings sent invalid on purpose, to exercise the dead-letter path.
   * `stop` (Ctrl-C) ends production early the way the function's own deadline does: from then on
   * the context has no time left, so the simulator stops putting, waits for its puts in flight and
   * reports what it sent (the in-process simulator: the bench's simulator process runs its course).
   */
  async simulate(rate: number, durationSeconds: number, seed: number, invalidRate = 0, stop?: AbortSignal): Promise<SimulatorResult> {
    const settings = this.functionSettings('tapline-simulator', { timeoutSeconds: durationSeconds + 60, memoryMb: this.env.config.simulator.memoryMb });
    const event = { rate, durationSeconds, seed, ...(invalidRate > 0 ? { invalidRate } : {}) };
    if (this.simulatorProcess) return (await this.simulatorProcess.invoke(event)) as SimulatorResult;
    const handler = (await import('../functions/simulator/handler.ts')).handler as unknown as Handler<unknown, SimulatorResult>;
    const simulator: Handler<unknown, SimulatorResult> = (e, context) =>
      handler(e, { ...context, getRemainingTimeInMillis: () => (stop?.aborted ? 0 : context.getRemainingTimeInMillis()) });
    return localInvoker(settings, simulator)(event);
  }

  /** As many warm ingest sandboxes as batches can run at once (shards x parallelization factor). */
  private async ingestPool(size: number, onError: (fn: string, e: unknown) => void) {
    const settings = this.functionSettings('tapline-ingest', this.env.config.ingest);
    const module = this.hooks.functionModules?.ingest ?? new URL('../functions/ingest/handler.ts', import.meta.url);
    for (let i = 0; i < size; i++) this.ingestProcs.push(await startFunctionProcess(module, settings, this.env.functionEnv));
    const idle = [...this.ingestProcs];
    return async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
      const proc = idle.pop();
      if (!proc) throw new Error('more concurrent ingest invocations than the mapping allows');
      try {
        return await proc.invoke(event);
      } catch (e) {
        onError('tapline-ingest', e);
        throw e;
      } finally {
        idle.push(proc);
      }
    };
  }

  /** A function's Timeout and MemorySize as the stage configures them, in the environment's one region. */
  private functionSettings(functionName: string, c: { timeoutSeconds: number; memoryMb: number }): FunctionSettings {
    return { functionName, timeoutSeconds: c.timeoutSeconds, memoryMb: c.memoryMb, region: this.env.region };
  }

  /** Waits until every arrived record is acknowledged and the events queue and outbox are empty. */
  async drain(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    let quietSince: number | undefined;
    while (Date.now() < until) {
      const idle = this.kinesisSource!.caughtUp() && (await queueDepth(this.env.sqs, this.env.queues.events)) === 0 && (await this.outboxSize()) === 0;
      quietSince = idle ? (quietSince ?? Date.now()) : undefined;
      if (quietSince !== undefined && Date.now() - quietSince >= 1_500) return true;
      await new Promise((ok) => setTimeout(ok, 250));
    }
    return false;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.periodicRuns);
    await this.kinesisSource?.stop();
    await this.sqsSource?.stop();
    await this.simulatorProcess?.stop();
    await Promise.all(this.ingestProcs.map((p) => p.stop()));
    await this.output.release();
  }

  /** Sum of one EMF metric over every invocation so far (e.g. RedeliveredRecords). */
  metric(name: string): number {
    return this.output.metric(name);
  }

  async snapshot(): Promise<PipelineSnapshot> {
    const shards = [...(this.kinesisSource?.shards.values() ?? [])];
    const m = (n: string) => this.output.metric(n);
    const { sqs, queues } = this.env;
    return {
      elapsedMs: Date.now() - this.startedAt,
      arrived: shards.reduce((a, s) => a + s.readUnits, 0),
      ingested: m('ReadingsWritten') + m('DuplicateReadings'),
      invalid: m('DeadLetteredRecords'),
      rowsWritten: m('RowsInserted'),
      duplicatesSkipped: m('DuplicateReadings') + m('RedeliveredRecords'),
      derivedEvents: m('DerivedEvents'),
      derivedWritten: m('DerivedEventsWritten'),
      lagMs: Math.max(0, ...shards.map((s) => s.lagMs)),
      maxLagMs: Math.max(0, ...shards.map((s) => s.maxLagMs)),
      functionErrors: this.functionErrors,
      dlq: {
        ingest: await queueDepth(sqs, queues.ingestDlq),
        onFailure: await queueDepth(sqs, queues.onFailure),
        events: await queueDepth(sqs, queues.eventsDlq),
      },
    };
  }

  async summary(sim: SimulatorResult, rate: number, durationSeconds: number): Promise<PipelineSummary> {
    const { elapsedMs: _e, lagMs: _l, ...snap } = await this.snapshot();
    const discarded = [...(this.kinesisSource?.shards.values() ?? [])].reduce((a, s) => a + s.discardedUnits, 0);
    const { rows } = await this.env.db.query<{ telemetry: number; rules: number; anomalies: number }>(
      `SELECT (SELECT count(*) FROM telemetry_events)::int AS telemetry,
              (SELECT count(*) FROM rule_events)::int AS rules,
              (SELECT count(*) FROM anomaly_events)::int AS anomalies`,
    );
    const counts = rows[0] ?? { telemetry: 0, rules: 0, anomalies: 0 };
    return {
      produced: sim.sent,
      producerFailed: sim.failed,
      durationSeconds,
      rate,
      ...snap,
      invalidInjected: sim.invalid,
      maxBatchesPerShard: Math.max(0, ...[...(this.kinesisSource?.shards.values() ?? [])].map((p) => p.maxInFlight)),
      deadLettered: snap.dlq.ingest - this.ingestDlqAtStart,
      unaccounted: snap.arrived - (snap.ingested + snap.invalid + discarded),
      database: { telemetryRows: counts.telemetry, ruleEvents: counts.rules, anomalyEvents: counts.anomalies },
    };
  }

  private async outboxSize(): Promise<number> {
    const { rows } = await this.env.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL');
    return rows[0]?.n ?? 0;
  }
}
