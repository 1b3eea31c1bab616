import pg from 'pg';
import { Signer } from '@aws-sdk/rds-signer';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { ConfigError, type Env } from '../env.ts';
import { pgDatabase } from './pg.ts';
import { isAuthenticationError } from './pgErrors.ts';
import { SESSION_LIMITS } from './sessionLimits.ts';
import type { SqlDatabase } from './session.ts';

const SecretSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  dbname: z.string().min(1).default('tapline'),
  username: z.string().min(1),
  password: z.string().min(1),
});
type ConnectionSecret = z.infer<typeof SecretSchema>;

export interface Database extends SqlDatabase {
  end(): Promise<void>;
}

const commonConfig = (env: Env): pg.PoolConfig => ({
  max: env.DB_POOL_MAX,
  // Lambda freezes between invocations; idle sockets are usually dead by the next thaw.
  idleTimeoutMillis: 60_000,
  connectionTimeoutMillis: 5_000,
  application_name: `tapline-${env.STAGE}`,
});

/**
 * Startup parameters for a direct connection, never SET (SET pins an RDS Proxy connection). Behind
 * the proxy the login role carries the same limits instead, so its startup message stays plain.
 */
const directSessionLimits = (env: Env): pg.PoolConfig => ({
  statement_timeout: env.DB_STATEMENT_TIMEOUT_MS,
  idle_in_transaction_session_timeout: SESSION_LIMITS.idle_in_transaction_session_timeout,
});

function poolDatabase(config: pg.PoolConfig): Database {
  const pool = new pg.Pool(config);
  // An idle client killed by the server (57P01 on restart) must not crash the process;
  // the next query gets a fresh connection.
  pool.on('error', () => undefined);
  return Object.assign(pgDatabase(pool), { end: () => pool.end() });
}

/**
 * Reads and checks the connection secret. The error names the secret and what is wrong with it,
 * never its content: JSON.parse's own message quotes the text it could not parse, which for a
 * plaintext secret is the password.
 */
async function readConnectionSecret(client: SecretsManagerClient, arn: string): Promise<ConnectionSecret> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  if (out.SecretString === undefined) throw new ConfigError(`secret ${arn} has no SecretString (binary secrets are not supported)`);
  let json: unknown;
  try {
    json = JSON.parse(out.SecretString);
  } catch {
    throw new ConfigError(`secret ${arn} is not JSON: expected an object with host, port, dbname, username, password`);
  }
  const parsed = SecretSchema.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
    throw new ConfigError(`secret ${arn} is missing or has invalid fields: ${fields}`);
  }
  return parsed.data;
}

/**
 * External mode: a pool built from the secret, rebuilt from a fresh read of the secret when the
 * server refuses the credentials. A rotation changes the password (and, for alternating-user
 * rotation, the user) under a warm container; its next new connection then fails with 28P01.
 * One rebuild per failure: if the fresh secret is refused too, the error goes up.
 */
async function secretDatabase(env: Env, arn: string): Promise<Database> {
  const client = new SecretsManagerClient({ region: env.AWS_REGION });
  const open = async (): Promise<Database> => {
    const secret = await readConnectionSecret(client, arn);
    return poolDatabase({
      ...commonConfig(env),
      ...directSessionLimits(env),
      host: secret.host,
      port: secret.port,
      database: secret.dbname,
      user: secret.username,
      password: secret.password,
      ssl: { rejectUnauthorized: true },
    });
  };
  let current = await open();
  let rebuilding: Promise<Database> | undefined;
  const rebuild = (refused: Database): Promise<Database> => {
    // Concurrent failures of the same pool share one rebuild; a later pool is already fresh.
    if (current !== refused) return Promise.resolve(current);
    rebuilding ??= open()
      .then((fresh) => {
        current = fresh;
        void refused.end().catch(() => undefined);
        return fresh;
      })
      .finally(() => {
        rebuilding = undefined;
      });
    return rebuilding;
  };
  const withFreshCredentials = async <T>(op: (db: Database) => Promise<T>): Promise<T> => {
    const db = current;
    try {
      return await op(db);
    } catch (e) {
      if (!isAuthenticationError(e)) throw e;
      return op(await rebuild(db));
    }
  };
  return {
    query: (text, params) => withFreshCredentials((db) => db.query(text, params)),
    exec: (script) => withFreshCredentials((db) => db.exec(script)),
    batch: (statements) => withFreshCredentials((db) => db.batch(statements)),
    copyFrom: (statement, data) => withFreshCredentials((db) => db.copyFrom(statement, data)),
    transaction: (work) => withFreshCredentials((db) => db.transaction(work)),
    end: () => current.end(),
  };
}

/**
 * One pool per container: call once at module scope (through a lazy singleton). The password never
 * sits in an environment variable: it is an IAM token minted per connection (RDS Proxy) or read
 * from Secrets Manager.
 */
export async function connectDatabase(env: Env): Promise<Database> {
  if (env.DATABASE_URL) return poolDatabase({ ...commonConfig(env), ...directSessionLimits(env), connectionString: env.DATABASE_URL });
  if (env.DB_SECRET_ARN) return secretDatabase(env, env.DB_SECRET_ARN);
  if (env.DB_HOST && env.DB_USER && env.DB_AUTH === 'iam') {
    const signer = new Signer({ hostname: env.DB_HOST, port: env.DB_PORT, username: env.DB_USER, region: env.AWS_REGION });
    return poolDatabase({
      ...commonConfig(env),
      host: env.DB_HOST,
      port: env.DB_PORT,
      database: env.DB_NAME,
      user: env.DB_USER,
      // Tokens live 15 minutes; pg calls this for every new connection.
      password: () => signer.getAuthToken(),
      ssl: { rejectUnauthorized: true },
    });
  }
  throw new ConfigError('no database configured: set DATABASE_URL, DB_SECRET_ARN, or DB_HOST + DB_USER with DB_AUTH=iam');
}
