import * as z from 'zod';
import { POOL_MAX, SESSION_LIMITS } from './db/sessionLimits.ts';

/**
 * Runtime settings, read once at cold start. Domain code never reads process.env:
 * it receives these values. A missing or bad variable fails the container with its name.
 *
 * Database connection, in order of precedence:
 * - DATABASE_URL (local runner, tests, a Timescale container);
 * - DB_SECRET_ARN (external mode: a Secrets Manager secret with host/port/dbname/username/password);
 * - DB_HOST + DB_USER with DB_AUTH=iam (RDS Proxy: short-lived IAM tokens, TLS required).
 */
export const EnvSchema = z.object({
  STAGE: z.string().min(1).default('local'),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  STREAM_NAME: z.string().min(1).optional(),
  INGEST_DLQ_URL: z.string().url().optional(),
  EVENTS_QUEUE_URL: z.string().url().optional(),
  DATABASE_URL: z.string().min(1).optional(),
  DB_SECRET_ARN: z.string().startsWith('arn:').optional(),
  DB_HOST: z.string().min(1).optional(),
  DB_PORT: z.coerce.number().int().positive().default(5432),
  DB_NAME: z.string().min(1).default('tapline'),
  DB_USER: z.string().min(1).optional(),
  DB_AUTH: z.enum(['iam', 'password']).default('password'),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(10).default(POOL_MAX),
  /**
   * Direct connections only (DATABASE_URL, DB_SECRET_ARN): operator commands raise it for long
   * exports. Behind RDS Proxy the login role's default applies (db/sessionLimits.ts).
   */
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(SESSION_LIMITS.statement_timeout),
  /** merge: one row per (source, fact) per batch with count/min/max/avg; raw: every record its own row. */
  INGEST_MODE: z.enum(['merge', 'raw']).default('merge'),
  TS_MAX_PAST_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(7 * 24 * 3600),
  TS_MAX_FUTURE_SECONDS: z.coerce.number().int().positive().default(300),
  SIMULATOR_RATE: z.coerce.number().int().positive().default(200),
  SIMULATOR_DURATION_SECONDS: z.coerce.number().int().positive().default(50),
  SIMULATOR_SEED: z.coerce.number().int().default(42),
  /**
   * `true`: the simulator puts KPL aggregated records (the stage's simulator.aggregate sets it).
   * Unset means plain records, which every consumer can read.
   */
  SIMULATOR_AGGREGATE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
});

export type Env = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

export function requireSetting<K extends keyof Env>(env: Env, key: K): NonNullable<Env[K]> {
  const value = env[key];
  if (value === undefined || value === null) throw new ConfigError(`${String(key)} is required by this function`);
  return value;
}
