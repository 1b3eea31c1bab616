import * as z from 'zod';
import { POOL_MAX } from '#core/db/sessionLimits';

/**
 * Per-stage configuration: the single source of truth for both `cdk deploy -c stage=...`
 * and `npm run local`, so the local runner batches and retries exactly like the deployed mapping.
 *
 * Database modes:
 * - `rds`: RDS for PostgreSQL behind RDS Proxy (TLS + IAM auth). RDS has NO TimescaleDB extension,
 *   so the warehouse runs in plain-PostgreSQL mode (partitions + rollup tables).
 * - `external`: an existing PostgreSQL/TimescaleDB (e.g. Timescale Cloud) reached through a
 *   connection secret; no RDS, no proxy. TimescaleDB features are used when the extension exists.
 * - `embedded`: local only; an embedded PostgreSQL started by `npm run local`.
 */
export const STAGES = ['local', 'dev', 'staging', 'prod'] as const;
export type StageName = (typeof STAGES)[number];

const positiveInt = z.number().int().positive();

export const StageConfigSchema = z
  .object({
    stage: z.enum(STAGES),
    ingest: z.object({
      /** The design's batch_size: Kinesis ESM BatchSize. */
      batchSize: z.number().int().min(1).max(10_000),
      /** The design's batch_timeout, in whole seconds (the ESM's granularity; 300 ms rounds up to 1 s). */
      batchWindowSeconds: z.number().int().min(0).max(300),
      parallelizationFactor: z.number().int().min(1).max(10),
      maxRetryAttempts: z.number().int().min(-1).max(10_000),
      maxRecordAgeSeconds: z.union([z.literal(-1), z.number().int().min(60).max(604_800)]),
      memoryMb: z.number().int().min(128).max(10_240),
      timeoutSeconds: z.number().int().min(1).max(900),
    }),
    stream: z.object({
      mode: z.enum(['on-demand', 'provisioned']),
      /**
       * Provisioned: the shard count. On-demand: the shards the ingest concurrency is reserved for
       * (AWS opens an on-demand stream with 4 and splits them as traffic grows; the records of
       * shards beyond the reservation wait, and the iterator-age alarms say so).
       */
      shards: positiveInt,
      retentionHours: z.number().int().min(24).max(8_760),
    }),
    writer: z.object({
      batchSize: z.number().int().min(1).max(10_000),
      batchWindowSeconds: z.number().int().min(0).max(300),
      maxConcurrency: z.number().int().min(2).max(1_000),
      memoryMb: z.number().int().min(128).max(10_240),
      timeoutSeconds: z.number().int().min(1).max(900),
    }),
    eventsQueue: z.object({
      /** Receives before a message moves to the events DLQ (AWS recommends >= 5). */
      maxReceiveCount: z.number().int().min(5).max(1_000),
    }),
    simulator: z.object({
      ratePerSecond: positiveInt,
      /** How long one scheduled invocation produces for. */
      durationSeconds: positiveInt,
      /** EventBridge schedule; 0 disables the schedule. */
      scheduleMinutes: z.number().int().min(0),
      seed: z.number().int(),
      /**
       * Put readings as KPL aggregated records (many readings of one source per Kinesis record, up
       * to one 25 KiB PUT payload unit each) instead of one Kinesis record per reading.
       */
      aggregate: z.boolean(),
      memoryMb: z.number().int().min(128).max(10_240),
      timeoutSeconds: z.number().int().min(1).max(900),
    }),
    validation: z.object({
      maxPastSeconds: positiveInt,
      maxFutureSeconds: positiveInt,
    }),
    maintenance: z.object({
      /** EventBridge schedule of the warehouse maintenance (partitions, rollups, OEE); 0 disables it. */
      scheduleMinutes: z.number().int().min(0).max(60),
      memoryMb: z.number().int().min(128).max(10_240),
      timeoutSeconds: z.number().int().min(1).max(900),
    }),
    alarms: z.object({
      /** Age of the oldest record not yet processed: the ingest function's IteratorAge and the stream's GetRecords age. */
      iteratorAgeMs: positiveInt,
      errorRatePct: z.number().positive().max(100),
      /** Records the stream refused to producers in 5 minutes (they are resent; many mean too few shards). */
      streamWriteThrottledRecords: positiveInt,
      /** GetRecords calls the stream throttled in 5 minutes (readers beyond the per-shard read limit). */
      streamReadThrottledCalls: positiveInt,
      /** Age of the oldest message in the events queue: the writer is down or failing. */
      eventsQueueAgeSeconds: positiveInt,
      /** Age of the oldest derived event still in the outbox: publishing to the events queue fails. */
      outboxAgeSeconds: z.number().int().min(60),
      email: z.string().email().optional(),
    }),
    /**
     * What survives `cdk destroy` and a replacement (CloudFormation DeletionPolicy and
     * UpdateReplacePolicy Retain): the stream (records not yet ingested, the only copy of what an
     * OnFailure message points to) and the three dead-letter queues (the only copy of what was set aside).
     */
    retainOnDelete: z.object({ stream: z.boolean(), deadLetterQueues: z.boolean() }),
    database: z.discriminatedUnion('mode', [
      z.object({
        mode: z.literal('rds'),
        instanceClass: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'like "t4g.micro"'),
        allocatedStorageGb: z.number().int().min(20).max(65_536),
        multiAz: z.boolean(),
        deletionProtection: z.boolean(),
        backupRetentionDays: z.number().int().min(0).max(35),
        /**
         * PostgreSQL max_connections (parameter group; a change needs a reboot). RDS Proxy may open
         * PROXY_MAX_CONNECTIONS_PERCENT of it; the functions' reserved concurrency must fit (docs/deploy.md).
         */
        maxConnections: z.number().int().min(25).max(5_000),
      }),
      z.object({
        mode: z.literal('external'),
        /** Secrets Manager secret with host, port, dbname, username, password. */
        secretArn: z.string().startsWith('arn:aws:secretsmanager:'),
      }),
      z.object({ mode: z.literal('embedded') }),
    ]),
    logRetentionDays: positiveInt,
    /**
     * Deployed stages share one Lambda layer holding the runtime node_modules (pg, zod, middy,
     * Powertools, AWS SDK clients) and mark them external in each function bundle. `false` bundles
     * them into every function instead: LocalStack Community accepts layers but does not apply them.
     */
    dependencyLayer: z.boolean(),
    /**
     * Only for `npm run local:stack` (the local stage deployed to LocalStack): where the functions
     * reach the TimescaleDB container. No password in it: the container trusts its private network.
     */
    localstack: z
      .object({
        databaseUrl: z.string().regex(/^postgres(ql)?:\/\/[^:@/]+@[^/]+\/\w+$/, 'like "postgres://user@host:5432/db", without a password'),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (c.ingest.maxRecordAgeSeconds !== -1 && c.ingest.maxRecordAgeSeconds > c.stream.retentionHours * 3600) {
      ctx.addIssue({ code: 'custom', path: ['ingest', 'maxRecordAgeSeconds'], message: 'must not exceed the stream retention' });
    }
    if (c.writer.batchSize > 10 && c.writer.batchWindowSeconds < 1) {
      ctx.addIssue({ code: 'custom', path: ['writer', 'batchWindowSeconds'], message: 'SQS batches over 10 need a batching window >= 1 s' });
    }
    if (c.stage !== 'local' && c.database.mode === 'embedded') {
      ctx.addIssue({ code: 'custom', path: ['database', 'mode'], message: 'embedded is only for the local stage' });
    }
    if (c.stream.mode === 'on-demand' && c.stream.shards < ON_DEMAND_INITIAL_SHARDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['stream', 'shards'],
        message: `an on-demand stream opens with ${ON_DEMAND_INITIAL_SHARDS} shards: reserve ingest concurrency for at least those`,
      });
    }
    if (c.alarms.eventsQueueAgeSeconds <= eventsVisibilitySeconds(c)) {
      ctx.addIssue({
        code: 'custom',
        path: ['alarms', 'eventsQueueAgeSeconds'],
        message: `must exceed the events queue visibility timeout (${eventsVisibilitySeconds(c)} s), or one retried message raises it`,
      });
    }
    if (c.database.mode === 'rds') {
      const budget = proxyConnectionBudget(c.database.maxConnections);
      const worst = databaseConnections(c);
      if (worst > budget) {
        ctx.addIssue({
          code: 'custom',
          path: ['database', 'maxConnections'],
          message: `the functions may open ${worst} connections (reserved concurrency x ${POOL_MAX} per pool) but RDS Proxy may open only ${budget} (${PROXY_MAX_CONNECTIONS_PERCENT}% of ${c.database.maxConnections})`,
        });
      }
      if (c.database.deletionProtection && !(c.retainOnDelete.stream && c.retainOnDelete.deadLetterQueues)) {
        ctx.addIssue({
          code: 'custom',
          path: ['retainOnDelete'],
          message: 'a stage whose database is deletion-protected must retain its stream and dead-letter queues too',
        });
      }
    }
  });

export type StageConfig = z.infer<typeof StageConfigSchema>;

/** Visibility timeout of the events queue: AWS asks for >= 6 x function timeout + batching window. */
export function eventsVisibilitySeconds(c: Pick<StageConfig, 'writer'>): number {
  return 6 * c.writer.timeoutSeconds + c.writer.batchWindowSeconds;
}

/** Shards AWS gives a new on-demand stream (4 MB/s of write capacity). */
export const ON_DEMAND_INITIAL_SHARDS = 4;
/** Share of max_connections RDS Proxy may use; the rest is for the migration, secret rotation and an operator's psql. */
export const PROXY_MAX_CONNECTIONS_PERCENT = 90;

export type ReservedFunction = 'ingest' | 'writer' | 'maintenance';

/**
 * Reserved concurrency of the functions that hold database connections, which caps both what they
 * take from the account and the connections they can open:
 * - ingest: Lambda runs one batch per shard and parallelization slot, never more;
 * - writer: the events mapping's MaximumConcurrency (a lower reservation would throttle it);
 * - maintenance: one run at a time (a second one would only skip, its tasks are locked).
 * The simulator and the migration hold no proxy connection and stay unreserved.
 */
export function reservedConcurrency(c: Pick<StageConfig, 'stream' | 'ingest' | 'writer'>): Record<ReservedFunction, number> {
  return { ingest: c.stream.shards * c.ingest.parallelizationFactor, writer: c.writer.maxConcurrency, maintenance: 1 };
}

/** The most connections the functions can hold at once: every reserved container with a full pool. */
export function databaseConnections(c: Pick<StageConfig, 'stream' | 'ingest' | 'writer'>): number {
  return Object.values(reservedConcurrency(c)).reduce((sum, n) => sum + n * POOL_MAX, 0);
}

/** Connections RDS Proxy may open to the instance. */
export const proxyConnectionBudget = (maxConnections: number): number => Math.floor((maxConnections * PROXY_MAX_CONNECTIONS_PERCENT) / 100);

const base = {
  // The original design: batch_size 200, batch_timeout 300 ms (rounded up to the ESM's 1 s).
  ingest: { batchSize: 200, batchWindowSeconds: 1, parallelizationFactor: 1, maxRetryAttempts: 10, maxRecordAgeSeconds: 3_600, memoryMb: 1_024, timeoutSeconds: 60 },
  stream: { mode: 'on-demand', shards: 4, retentionHours: 24 },
  writer: { batchSize: 100, batchWindowSeconds: 1, maxConcurrency: 5, memoryMb: 512, timeoutSeconds: 30 },
  eventsQueue: { maxReceiveCount: 5 },
  simulator: { ratePerSecond: 200, durationSeconds: 50, scheduleMinutes: 1, seed: 42, aggregate: true, memoryMb: 512, timeoutSeconds: 60 },
  validation: { maxPastSeconds: 7 * 24 * 3600, maxFutureSeconds: 300 },
  maintenance: { scheduleMinutes: 5, memoryMb: 512, timeoutSeconds: 120 },
  alarms: {
    iteratorAgeMs: 60_000,
    errorRatePct: 1,
    streamWriteThrottledRecords: 100,
    streamReadThrottledCalls: 20,
    eventsQueueAgeSeconds: 600,
    outboxAgeSeconds: 300,
  },
  // Outside prod a stage is disposable: `cdk destroy` takes everything with it.
  retainOnDelete: { stream: false, deadLetterQueues: false },
  logRetentionDays: 14,
  dependencyLayer: true,
} satisfies Omit<StageConfig, 'stage' | 'database'>;

/** Raw stage data; parse it with `loadStageConfig` so a bad edit fails at synth with the field's name. */
export const STAGE_DATA: Record<StageName, unknown> = {
  local: {
    ...base,
    stage: 'local',
    stream: { mode: 'provisioned', shards: 2, retentionHours: 24 },
    simulator: { ...base.simulator, ratePerSecond: 1_000, scheduleMinutes: 0 },
    database: { mode: 'embedded' },
    logRetentionDays: 1,
    dependencyLayer: false,
    // `timescaledb` is the compose service name, resolvable from LocalStack's Lambda containers
    // because LAMBDA_DOCKER_NETWORK puts them on the compose network (docker-compose.yml).
    localstack: { databaseUrl: 'postgres://tapline@timescaledb:5432/tapline' },
  },
  dev: {
    ...base,
    stage: 'dev',
    database: { mode: 'rds', instanceClass: 't4g.micro', allocatedStorageGb: 20, multiAz: false, deletionProtection: false, backupRetentionDays: 1, maxConnections: 80 },
    logRetentionDays: 7,
  },
  staging: {
    ...base,
    stage: 'staging',
    ingest: { ...base.ingest, batchSize: 1_000 },
    stream: { mode: 'provisioned', shards: 2, retentionHours: 24 },
    database: { mode: 'rds', instanceClass: 't4g.medium', allocatedStorageGb: 50, multiAz: false, deletionProtection: false, backupRetentionDays: 3, maxConnections: 200 },
  },
  prod: {
    ...base,
    stage: 'prod',
    // A 5 s window: at 1,000 readings/s over 4 shards about 1,250 readings per invocation instead of
    // 250. Per-invocation costs (logs, requests, round trips) are most of the variable cost
    // (`npm run cost`); readings still reach the warehouse within about 6 s.
    ingest: { ...base.ingest, batchSize: 1_000, batchWindowSeconds: 5, parallelizationFactor: 2, maxRetryAttempts: 20, maxRecordAgeSeconds: 21_600 },
    stream: { mode: 'provisioned', shards: 4, retentionHours: 168 },
    writer: { ...base.writer, maxConcurrency: 10 },
    simulator: { ...base.simulator, scheduleMinutes: 0 },
    alarms: { ...base.alarms, iteratorAgeMs: 300_000, errorRatePct: 0.5 },
    retainOnDelete: { stream: true, deadLetterQueues: true },
    database: { mode: 'rds', instanceClass: 'r7g.large', allocatedStorageGb: 200, multiAz: true, deletionProtection: true, backupRetentionDays: 14, maxConnections: 500 },
    logRetentionDays: 30,
  },
};

export class StageConfigError extends Error {
  override readonly name = 'StageConfigError';
}

export function loadStageConfig(stage: string | undefined, overrides: unknown = STAGE_DATA): StageConfig {
  const table = overrides as Record<string, unknown>;
  if (!stage || !(STAGES as readonly string[]).includes(stage)) {
    throw new StageConfigError(`unknown stage "${stage ?? ''}": expected one of ${STAGES.join(', ')}`);
  }
  const parsed = StageConfigSchema.safeParse(table[stage]);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new StageConfigError(`invalid config for stage "${stage}": ${problems}`);
  }
  return parsed.data;
}
