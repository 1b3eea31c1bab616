import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { encodeRecord } from '#core/record';
import { startPostgres } from '../../local/services/postgres.ts';
import type { PipelineSummary } from '../../local/pipeline.ts';
import { emulatorClient } from '../helpers/kinesis.ts';

const dir = await mkdtemp(join(tmpdir(), 'tapline-e2e-'));
await chmod(dir, 0o755); // the embedded server runs as user postgres when tests run as root
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Once the run has written where its parts listen, puts `n` valid readings on its stream, as another producer would. */
async function putFromOutside(dataDir: string, n: number): Promise<void> {
  let connection: { kinesisEndpoint: string; streamName: string } | undefined;
  for (let i = 0; !connection; i++) {
    if (i > 600) throw new Error('the run never wrote connection.json');
    connection = await readFile(join(dataDir, 'connection.json'), 'utf8').then(
      (t) => JSON.parse(t) as typeof connection,
      () => undefined,
    );
    if (!connection) await new Promise((ok) => setTimeout(ok, 100));
  }
  const kinesis = emulatorClient(connection.kinesisEndpoint);
  const ts = new Date().toISOString();
  const records = Array.from({ length: n }, (_, i) => ({ v: 1 as const, id: `outside-${i}`, source: `OUTSIDE_${i}`, fact: 'temperature_c', ts, value: 20 + i }));
  const out = await kinesis.send(new PutRecordsCommand({ StreamName: connection.streamName, Records: records.map((r) => ({ Data: encodeRecord(r), PartitionKey: r.source })) }));
  kinesis.destroy();
  if (out.FailedRecordCount) throw new Error('records from outside were not accepted');
}

function runLocal(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/bin/local.ts', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('npm run local', () => {
  it('runs the whole pipeline for a few seconds and accounts for every record, invalid and put from outside included', async () => {
    // Act: 2 % of the simulator's records are invalid on purpose; 3 valid ones come from another producer.
    const summaryFile = join(dir, 'summary.json');
    const dataDir = join(dir, 'data');
    const [run] = await Promise.all([
      runLocal(['--duration', '8', '--rate', '500', '--invalid-rate', '0.02', '--summary', summaryFile, '--data-dir', dataDir]),
      putFromOutside(dataDir, 3),
    ]);
    // Assess: the command's own verdict, its progress, and its summary.
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/produced [\d,]+ \([\d,]+\/s\) \| ingested/);
    expect(run.stderr).toMatch(/summary: produced 4,000 \(\+3 put from outside\), ingested [\d,]+, invalid [\d,]+ \([\d,]+ injected\), unaccounted 0/);
    const s = JSON.parse(await readFile(summaryFile, 'utf8')) as PipelineSummary;
    expect(s.produced).toBe(4_000);
    expect(s.arrived).toBe(4_003);
    expect(s.invalidInjected).toBeGreaterThan(0);
    expect(s.invalid).toBe(s.invalidInjected);
    expect(s.ingested + s.invalid).toBe(s.arrived);
    expect(s.unaccounted).toBe(0);
    expect(s.rowsWritten).toBeGreaterThan(0);
    expect(s.derivedWritten).toBe(s.derivedEvents);
    expect(s.dlq).toEqual({ ingest: s.invalid, onFailure: 0, events: 0 });
    expect(s.deadLettered).toBe(s.invalid);

    // And the kept database holds exactly what the summary says: every sample merged once.
    const server = await startPostgres({ dataDir: join(dir, 'data', 'pg') });
    const client = new pg.Client(server.url);
    await client.connect();
    const { rows } = await client.query<{ samples: number; rows: number }>('SELECT sum(sample_count)::int AS samples, count(*)::int AS rows FROM telemetry_events');
    await client.end();
    await server.stop();
    expect(rows[0]).toEqual({ samples: s.ingested, rows: s.rowsWritten });
  });
});
