import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { connectDatabase, type Database } from '#core/db/connect';
import { readEnv, type Env } from '#core/env';
import { startPostgres } from '../services/postgres.ts';
import { readConnectionFile, type ConnectionFile } from './connectionFile.ts';
import { dataDir, dataDirHolder, lockDataDir, shown, type DataDir } from './dataDir.ts';
import { CliError, note } from './run.ts';

export interface CliDatabase {
  db: Database;
  /** Where the database is, as printed on stderr when it was opened. */
  description: string;
  env: Env;
  /** The data dir the database came from, when it did not come from the environment. */
  dir: DataDir | null;
  /** The running `npm run local`'s connection.json, when its server is the one in use. */
  connection: ConnectionFile | null;
  close(): Promise<void>;
}

/**
 * The database an operator command works on, printed on stderr (`database: ...`):
 * 1. DATABASE_URL / DB_SECRET_ARN / DB_HOST (+ DB_AUTH=iam), exactly as the functions connect;
 * 2. else the local data dir (--data-dir, default .tapline/local): the server of the `npm run local`
 *    that holds the data dir, when it answers (connection.json); otherwise the embedded PostgreSQL
 *    kept in <data-dir>/pg, started for the duration of the command, which then holds the data dir
 *    (another command that holds it without serving it, e.g. `invoke`: in use, exit 2).
 * `create` (npm run migrate): a data dir without a database gets a new one instead of an error.
 */
export async function openCliDatabase(dataDirFlag: string | undefined, command: string, opts: { create?: boolean } = {}): Promise<CliDatabase> {
  // Operator queries scan whole tables; the functions' 15 s default is for the hot path.
  const timeout = { DB_STATEMENT_TIMEOUT_MS: '600000' };
  const env = readEnv({ ...timeout, ...process.env });
  if (env.DATABASE_URL || env.DB_SECRET_ARN || env.DB_HOST) {
    const db = await connectDatabase(env);
    const description = env.DATABASE_URL ? `${redact(env.DATABASE_URL)} (DATABASE_URL)` : `the database of ${env.DB_SECRET_ARN ? 'DB_SECRET_ARN' : 'DB_HOST'}`;
    return opened({ db, env, dir: null, connection: null, description, close: () => db.end() });
  }
  const dir = dataDir(dataDirFlag);
  const connectTo = async (url: string) => connectDatabase(readEnv({ ...process.env, ...timeout, DATABASE_URL: url }));
  // connection.json is only believed while the run that wrote it holds the data dir: a stale file's
  // port may belong to another server by now.
  const holder = dataDirHolder(dir);
  const connection = holder ? readConnectionFile(dir) : undefined;
  if (connection && (await reachable(connection.databaseUrl))) {
    const db = await connectTo(connection.databaseUrl);
    const description = `${redact(connection.databaseUrl)}, the database of the running \`${holder?.command}\` in ${shown(dir.root)}`;
    return opened({ db, env, dir, connection, description, close: () => db.end() });
  }
  const exists = await stat(join(dir.pg, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (!exists && !opts.create && !holder) {
    throw new CliError(`no database in ${shown(dir.pg)} (and DATABASE_URL is not set): run \`npm run local\` first, pass --data-dir <dir>, or set DATABASE_URL`);
  }
  const lock = lockDataDir(dir, command);
  try {
    const server = await startPostgres({ dataDir: dir.pg }).catch((e: unknown) => {
      throw new CliError(`could not start the embedded PostgreSQL on ${shown(dir.pg)}: ${(e as Error).message}`);
    });
    const db = await connectTo(server.url).catch(async (e: unknown) => {
      await server.stop();
      throw e;
    });
    const description = `embedded PostgreSQL kept in ${shown(dir.pg)}${exists ? '' : ' (new)'}`;
    return opened({
      db,
      env,
      dir,
      connection: null,
      description,
      async close() {
        try {
          await db.end();
          await server.stop();
        } finally {
          lock.release();
        }
      },
    });
  } catch (e) {
    lock.release();
    throw e;
  }
}

function opened(cli: CliDatabase): CliDatabase {
  note(`database: ${cli.description}`);
  return cli;
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

/** A database URL without its password, for the line that says which database a command uses. */
export const redact = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
