import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres } from '../../local/services/postgres.ts';
import type { PipelineSummary } from '../../local/pipeline.ts';

const dir = await mkdtemp(join(tmpdir(), 'tapline-e2e-'));
await chmod(dir, 0o755); // the embedded server runs as user postgres when tests run as root
afterAll(() => rm(dir, { recursive: true, force: true }));

function runLocal(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/bin/local.ts', ...args], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('npm run local', () => {
  it('runs the whole pipeline for a few seconds and accounts for every produced event', async () => {
    // Act
    const summaryFile = join(dir, 'summary.json');
    const run = await runLocal(['--duration', '8', '--rate', '500', '--summary', summaryFile, '--data-dir', join(dir, 'data')]);
    // Assess: the command's own verdict, its progress, and its summary.
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/produced [\d,]+ \([\d,]+\/s\) \| ingested/);
    const s = JSON.parse(await readFile(summaryFile, 'utf8')) as PipelineSummary;
    expect(s.produced).toBe(4_000);
    expect(s.ingested + s.invalid).toBe(s.produced);
    expect(s.rowsWritten).toBeGreaterThan(0);
    expect(s.derivedWritten).toBe(s.derivedEvents);
    expect(s.dlq).toEqual({ ingest: 0, onFailure: 0, events: 0 });

    // And the kept database holds exactly what the summary says: every sample merged once.
    const server = await startPostgres({ dataDir: join(dir, 'data', 'pg') });
    const client = new pg.Client(server.url);
    await client.connect();
    const { rows } = await client.query<{ samples: number; rows: number }>(
      'SELECT sum(sample_count)::int AS samples, count(*)::int AS rows FROM telemetry_events',
    );
    await client.end();
    await server.stop();
    expect(rows[0]).toEqual({ samples: s.ingested, rows: s.rowsWritten });
  });
});
