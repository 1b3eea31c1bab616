import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { startPostgres } from '../../local/services/postgres.ts';

const run = promisify(execFile);
let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('npm run migrate exits 1 with one line when a migration fails on the embedded database', async () => {
  // Prepare: a kept database where the first migration cannot run (its table already exists).
  dir = await mkdtemp(join(tmpdir(), 'tapline-migrate-'));
  await chmod(dir, 0o711); // as root, the embedded server runs as user postgres and must enter it
  const server = await startPostgres({ dataDir: join(dir, 'pg') });
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  await client.query('CREATE TABLE ingest_checkpoint (x int)');
  await client.end();
  await server.stop();

  // Act
  const outcome = await run(process.execPath, ['--import', 'tsx', 'local/bin/migrate.ts', '--data-dir', dir], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );

  // Assess
  expect(outcome.code).toBe(1);
  const lines = outcome.stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^database: embedded PostgreSQL kept in .*\/pg$/);
  expect(lines.slice(1)).toEqual(['error: migration failed: relation "ingest_checkpoint" already exists']);
});
