import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../local/services/postgres.ts';
import { runCommandProcess } from '../helpers/commandProcess.ts';

const dir = await mkdtemp(join(tmpdir(), 'tapline-interrupt-'));
await chmod(dir, 0o755); // the embedded server runs as user postgres when tests run as root
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('Ctrl-C on npm run local', () => {
  it('drains what is in flight, prints the partial summary with every record accounted for, exits 130 and leaves the kept database stopped and whole', async () => {
    // Prepare: a run far longer than the test; its own process group, as a terminal's foreground job.
    const dataDir = join(dir, 'data');
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/bin/local.ts', '--duration', '600', '--rate', '300', '--no-ui', '--data-dir', dataDir], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let interrupted = false;
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

    // Act: Ctrl-C to the whole group (as the terminal sends it) once the pipeline reports ingested records.
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!interrupted && /\| ingested [1-9][\d,]* \(/.test(stderr)) {
        interrupted = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    const code = await exited;

    // Assess: the command's verdict and its summary.
    expect(interrupted, stderr).toBe(true);
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('interrupted: stopping the simulator, draining what is in flight');
    expect(stderr).toMatch(/interrupted after [\d.]+ s: the summary of what was produced until then/);
    const summary = /summary: produced ([\d,]+), ingested ([\d,]+), invalid (\d+), unaccounted (\d+)/.exec(stderr);
    expect(summary, stderr).not.toBeNull();
    const [produced, ingested] = [summary![1], summary![2]].map((n) => Number(n!.replace(/,/g, '')));
    expect(produced).toBeGreaterThan(0);
    expect(produced).toBeLessThan(600 * 300); // stopped early
    expect(ingested).toBe(produced);
    expect(summary![4]).toBe('0');
    expect(stderr).not.toContain('NOT DRAINED');
    expect(stderr).not.toMatch(/^\s+at /m);
    // The data dir is let go, its server stopped (no postmaster.pid), and the kept database holds the run.
    expect(existsSync(join(dataDir, 'lock'))).toBe(false);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    const server = await startPostgres({ dataDir: join(dataDir, 'pg') });
    const client = new pg.Client(server.url);
    await client.connect();
    const { rows } = await client.query<{ samples: number }>('SELECT coalesce(sum(sample_count), 0)::int AS samples FROM telemetry_events');
    await client.end();
    await server.stop();
    expect(rows[0]!.samples).toBe(ingested);
    // npm run status afterwards reads the queues the run kept, not the endpoints of its ended emulators.
    const status = await runCommandProcess('ops/bin/status.ts', ['--data-dir', dataDir]);
    expect(status.stdout, status.stderr).toMatch(/^queues {6}tapline-local-ingest-dlq 0, /m);
    expect(status.stdout).not.toContain('not reachable');
  });
});
