import { execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../local/services/ports.ts';

const run = promisify(execFile);

export interface DebianPostgres {
  url: string;
  version: string;
  stop(): Promise<void>;
}

const PACKAGE_ROOT = '/usr/lib/postgresql';

/**
 * The distribution's PostgreSQL server (Debian's `postgresql` package; .ci/run installs it), on
 * 127.0.0.1 in a throwaway cluster: a second engine, built and versioned independently of the
 * embedded one, so no test trusts a single build. Fails with the install command when missing.
 */
export async function startDebianPostgres(): Promise<DebianPostgres> {
  const versions = await readdir(PACKAGE_ROOT).catch(() => [] as string[]);
  const version = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))[0];
  if (!version) throw new Error(`no PostgreSQL server under ${PACKAGE_ROOT}: install Debian's with \`apt-get install -y postgresql\` (.ci/run does)`);
  const bin = join(PACKAGE_ROOT, version, 'bin');
  const dataDir = await mkdtemp(join(tmpdir(), 'tapline-pg-debian-'));
  // As root the server must run as an ordinary user: the package's own `postgres` account.
  const asPostgres = userInfo().uid === 0;
  const exec = (cmd: string, args: string[]) => (asPostgres ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));
  if (asPostgres) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dataDir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dataDir, 0o700);
  await exec('initdb', ['-D', dataDir, '-U', 'tapline', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories='' -c fsync=off`;
  await exec('pg_ctl', ['-D', dataDir, '-o', options, '-w', '-l', join(dataDir, 'server.log'), 'start']);
  const admin = new pg.Client({ connectionString: `postgres://tapline@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE tapline');
  await admin.end();
  return {
    url: `postgres://tapline:tapline@127.0.0.1:${port}/tapline`,
    version,
    async stop() {
      await exec('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
