import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import * as z from 'zod';
import { connectDatabase, type Database } from '#core/db/connect';
import { readEnv, type Env } from '#core/env';
import { startPostgres } from '../services/postgres.ts';
import { CliError } from './run.ts';

/** Where the local runner keeps its database with `npm run local -- --data-dir <dir>`. */
export const DEFAULT_DATA_DIR = '.tapline/local';

const ConnectionFileSchema = z.object({
  databaseUrl: z.string().min(1),
  pgDataDir: z.string().min(1).optional(),
  sqsEndpoint: z.string().url().optional(),
  region: z.string().min(1).optional(),
});
export type ConnectionFile = z.infer<typeof ConnectionFileSchema>;

export interface CliDatabase {
  db: Database;
  /** Where the database is, for the report's first line. */
  description: string;
  env: Env;
  /** The kept run's connection.json, when the database came from a data dir. */
  connection: ConnectionFile | null;
  close(): Promise<void>;
}

/**
 * The database an operator command works on:
 * 1. DATABASE_URL / DB_SECRET_ARN / DB_HOST (+ DB_AUTH=iam), exactly as the functions connect;
 * 2. else the local runner's kept database in <data-dir>: the runner's server when it is still
 *    running (connection.json), otherwise the embedded PostgreSQL started on <data-dir>/pg for the
 *    duration of the command.
 */
export async function openCliDatabase(dataDirFlag: string | undefined): Promise<CliDatabase> {
  // Operator queries scan whole tables; the functions' 15 s default is for the hot path.
  const env = readEnv({ DB_STATEMENT_TIMEOUT_MS: '600000', ...process.env });
  if (env.DATABASE_URL || env.DB_SECRET_ARN || env.DB_HOST) {
    const db = await connectDatabase(env);
    return { db, env, connection: null, description: env.DATABASE_URL ? redact(env.DATABASE_URL) : 'database from the environment', close: () => db.end() };
  }
  const dataDir = resolve(dataDirFlag ?? DEFAULT_DATA_DIR);
  const connection = await readConnectionFile(dataDir);
  if (connection && (await reachable(connection.databaseUrl))) {
    const db = await connectDatabase(readEnv({ ...process.env, DB_STATEMENT_TIMEOUT_MS: String(env.DB_STATEMENT_TIMEOUT_MS), DATABASE_URL: connection.databaseUrl }));
    return { db, env, connection, description: `running local database ${redact(connection.databaseUrl)}`, close: () => db.end() };
  }
  const pgDataDir = connection?.pgDataDir ?? join(dataDir, 'pg');
  if (!(await stat(join(pgDataDir, 'PG_VERSION')).then(() => true, () => false))) {
    throw new CliError(
      `no database: DATABASE_URL is not set and there is no kept local database in ${pgDataDir}.\n` +
      `Run \`npm run local -- --data-dir ${dataDirFlag ?? DEFAULT_DATA_DIR}\` first, pass --data-dir <dir>, or set DATABASE_URL.`,
    );
  }
  const server = await startPostgres({ dataDir: pgDataDir }).catch((e: unknown) => {
    throw new CliError(`could not start the embedded PostgreSQL on ${pgDataDir} (is another process using it?): ${(e as Error).message}`);
  });
  const db = await connectDatabase(readEnv({ ...process.env, DB_STATEMENT_TIMEOUT_MS: String(env.DB_STATEMENT_TIMEOUT_MS), DATABASE_URL: server.url }));
  return {
    db,
    env,
    connection,
    description: `embedded PostgreSQL on ${pgDataDir}`,
    async close() {
      await db.end();
      await server.stop();
    },
  };
}

async function readConnectionFile(dataDir: string): Promise<ConnectionFile | null> {
  const text = await readFile(join(dataDir, 'connection.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  const parsed = ConnectionFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new CliError(`${join(dataDir, 'connection.json')} is not a tapline connection file: ${parsed.error.message}`);
  return parsed.data;
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_500 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false; // not running: the caller starts the kept cluster itself
  } finally {
    await client.end().catch(() => undefined);
  }
}

const redact = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
