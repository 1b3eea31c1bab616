import * as z from 'zod';

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
      /** Only for provisioned mode. */
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
      memoryMb: z.number().int().min(128).max(10_240),
      timeoutSeconds: z.number().int().min(1).max(900),
    }),
    validation: z.object({
      maxPastSeconds: positiveInt,
      maxFutureSeconds: positiveInt,
    }),
    retention: z.object({
      rawDays: positiveInt,
      oneMinuteDays: positiveInt,
      oneHourDays: positiveInt,
    }),
    maintenance: z.object({
      /** EventBridge schedule of the warehouse maintenance (partitions, rollups, OEE); 0 disables it. */
      scheduleMinutes: z.number().int().min(0).max(60),
      memoryMb: z.number().int().min(128).max(10_240),
      timeoutSeconds: z.number().int().min(1).max(900),
    }),
    alarms: z.object({
      iteratorAgeMs: positiveInt,
      errorRatePct: z.number().positive().max(100),
      email: z.string().email().optional(),
    }),
    database: z.discriminatedUnion('mode', [
      z.object({
        mode: z.literal('rds'),
        instanceClass: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'like "t4g.micro"'),
        allocatedStorageGb: z.number().int().min(20).max(65_536),
        multiAz: z.boolean(),
        deletionProtection: z.boolean(),
        backupRetentionDays: z.number().int().min(0).max(35),
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
        databaseUrl: z
          .string()
          .regex(/^postgres(ql)?:\/\/[^:@/]+@[^/]+\/\w+$/, 'like "postgres://user@host:5432/db", without a password'),
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
  });

export type StageConfig = z.infer<typeof StageConfigSchema>;

/** Visibility timeout of the events queue: AWS asks for >= 6 x function timeout + batching window. */
export const eventsVisibilitySeconds = (c: StageConfig): number =>
  6 * c.writer.timeoutSeconds + c.writer.batchWindowSeconds;

const base = {
  // The original design: batch_size 200, batch_timeout 300 ms (rounded up to the ESM's 1 s).
  ingest: { batchSize: 200, batchWindowSeconds: 1, parallelizationFactor: 1, maxRetryAttempts: 10, maxRecordAgeSeconds: 3_600, memoryMb: 1_024, timeoutSeconds: 60 },
  stream: { mode: 'on-demand', shards: 1, retentionHours: 24 },
  writer: { batchSize: 100, batchWindowSeconds: 1, maxConcurrency: 5, memoryMb: 512, timeoutSeconds: 30 },
  eventsQueue: { maxReceiveCount: 5 },
  simulator: { ratePerSecond: 200, durationSeconds: 50, scheduleMinutes: 1, seed: 42, memoryMb: 512, timeoutSeconds: 60 },
  validation: { maxPastSeconds: 7 * 24 * 3600, maxFutureSeconds: 300 },
  retention: { rawDays: 7, oneMinuteDays: 30, oneHourDays: 365 },
  maintenance: { scheduleMinutes: 5, memoryMb: 512, timeoutSeconds: 120 },
  alarms: { iteratorAgeMs: 60_000, errorRatePct: 1 },
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
    database: { mode: 'rds', instanceClass: 't4g.micro', allocatedStorageGb: 20, multiAz: false, deletionProtection: false, backupRetentionDays: 1 },
    logRetentionDays: 7,
  },
  staging: {
    ...base,
    stage: 'staging',
    ingest: { ...base.ingest, batchSize: 1_000 },
    stream: { mode: 'provisioned', shards: 2, retentionHours: 24 },
    database: { mode: 'rds', instanceClass: 't4g.medium', allocatedStorageGb: 50, multiAz: false, deletionProtection: false, backupRetentionDays: 3 },
  },
  prod: {
    ...base,
    stage: 'prod',
    ingest: { ...base.ingest, batchSize: 1_000, parallelizationFactor: 2, maxRetryAttempts: 20, maxRecordAgeSeconds: 21_600 },
    stream: { mode: 'provisioned', shards: 4, retentionHours: 168 },
    writer: { ...base.writer, maxConcurrency: 10 },
    simulator: { ...base.simulator, scheduleMinutes: 0 },
    alarms: { iteratorAgeMs: 300_000, errorRatePct: 0.5 },
    database: { mode: 'rds', instanceClass: 'r7g.large', allocatedStorageGb: 200, multiAz: true, deletionProtection: true, backupRetentionDays: 14 },
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
