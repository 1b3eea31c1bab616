import pg from 'pg';
import { Signer } from '@aws-sdk/rds-signer';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { ConfigError, type Env } from '../env.ts';
import { pgDatabase } from './pg.ts';
import type { SqlDatabase } from './session.ts';

const SecretSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  dbname: z.string().min(1).default('tapline'),
  username: z.string().min(1),
  password: z.string().min(1),
});

/**
 * Builds the pool settings from the environment. The password never sits in an environment
 * variable: it is an IAM token minted per connection (RDS Proxy) or read from Secrets Manager.
 */
async function poolConfig(env: Env): Promise<pg.PoolConfig> {
  const common: pg.PoolConfig = {
    max: env.DB_POOL_MAX,
    // Lambda freezes between invocations; idle sockets are usually dead by the next thaw.
    idleTimeoutMillis: 60_000,
    connectionTimeoutMillis: 5_000,
    application_name: `tapline-${env.STAGE}`,
  };
  // A startup parameter, never SET (SET pins an RDS Proxy connection). Behind the proxy the
  // functions' role carries the same default instead (ALTER ROLE in the migration), so the
  // startup message stays plain there.
  const timeout = { statement_timeout: env.DB_STATEMENT_TIMEOUT_MS };
  if (env.DATABASE_URL) return { ...common, ...timeout, connectionString: env.DATABASE_URL };
  if (env.DB_SECRET_ARN) {
    const client = new SecretsManagerClient({ region: env.AWS_REGION });
    const out = await client.send(new GetSecretValueCommand({ SecretId: env.DB_SECRET_ARN }));
    const secret = SecretSchema.parse(JSON.parse(out.SecretString ?? '{}'));
    return {
      ...common,
      ...timeout,
      host: secret.host,
      port: secret.port,
      database: secret.dbname,
      user: secret.username,
      password: secret.password,
      ssl: { rejectUnauthorized: true },
    };
  }
  if (env.DB_HOST && env.DB_USER && env.DB_AUTH === 'iam') {
    const signer = new Signer({ hostname: env.DB_HOST, port: env.DB_PORT, username: env.DB_USER, region: env.AWS_REGION });
    return {
      ...common,
      host: env.DB_HOST,
      port: env.DB_PORT,
      database: env.DB_NAME,
      user: env.DB_USER,
      // Tokens live 15 minutes; pg calls this for every new connection.
      password: () => signer.getAuthToken(),
      ssl: { rejectUnauthorized: true },
    };
  }
  throw new ConfigError('no database configured: set DATABASE_URL, DB_SECRET_ARN, or DB_HOST + DB_USER with DB_AUTH=iam');
}

export interface Database extends SqlDatabase {
  end(): Promise<void>;
}

/** One pool per container: call once at module scope (through a lazy singleton). */
export async function connectDatabase(env: Env): Promise<Database> {
  const pool = new pg.Pool(await poolConfig(env));
  // An idle client killed by the server (57P01 on restart) must not crash the process;
  // the next query gets a fresh connection.
  pool.on('error', () => undefined);
  return Object.assign(pgDatabase(pool), { end: () => pool.end() });
}
