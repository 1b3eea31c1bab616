import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommandProcess } from '../helpers/commandProcess.ts';

/**
 * The quick start's `sample-event` -> `invoke` -> `redrive` path as a user walks it, each a child
 * process on one kept data dir: the sample events of every handler are accepted, a fresh sample
 * is new to the kept database while a re-invoked file is a redelivery (and invoke says so), the
 * reasons of what was dead-lettered are printed, and the dead letters are still there for redrive
 * and status.
 */
const dir = await mkdtemp(join(tmpdir(), 'tapline-invoke-'));
await chmod(dir, 0o755); // the embedded server runs as user postgres when tests run as root
afterAll(() => rm(dir, { recursive: true, force: true }));
const dataDir = join(dir, 'data');

const run = (script: string, args: string[]) => runCommandProcess(script, [...args, '--data-dir', dataDir]);
const invoke = (fn: string, event: string, ...more: string[]) => run('local/bin/invoke.ts', [fn, '--event', event, ...more]);
async function sampleEvent(name: string, ...flags: string[]): Promise<string> {
  const { code, stdout, stderr } = await run('local/bin/sample-event.ts', ['--count', '5', ...flags]);
  expect(code, stderr).toBe(0);
  const file = join(dir, name);
  await writeFile(file, stdout);
  return file;
}
const notes = (stderr: string) => stderr.split('\n').filter((l) => !l.startsWith('{'));

describe('npm run sample-event, invoke, redrive and status on the kept data dir', () => {
  it('ingests a fresh sample, tells a re-invoked one as a redelivery, prints why each record was dead-lettered, and keeps the dead letters for redrive', async () => {
    // Act 1: a fresh sample with two bad records.
    const first = await sampleEvent('first.json', '--with-invalid');
    const ingested = await invoke('ingest', first);

    // Assess 1
    expect(ingested.code, ingested.stderr).toBe(0);
    expect(JSON.parse(ingested.stdout)).toEqual({ batchItemFailures: [] });
    expect(notes(ingested.stderr)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^database: embedded PostgreSQL kept in .*data\/pg$/),
        'ingest: 7 record(s): 5 reading(s) written, 0 duplicate(s), 2 dead-lettered, 0 redelivered',
        'dead-lettered by this invocation: 2',
        expect.stringMatching(/^ {2}not_json: .* \(record shardId-000000000000 \d+, key unknown\)$/),
        expect.stringMatching(/^ {2}not_base64: .* \(record shardId-000000000000 \d+, key unknown\)$/),
        expect.stringMatching(/^queues after the invocation: ingest-dlq 2, on-failure 0, events \d+, events-dlq 0 \(kept for npm run redrive and the next run\)$/),
      ]),
    );

    // Act 2: the same file again is Lambda redelivering a committed batch.
    const again = await invoke('ingest', first);

    // Assess 2
    expect(again.code, again.stderr).toBe(0);
    expect(notes(again.stderr)).toContain('ingest: 7 record(s): 0 reading(s) written, 0 duplicate(s), 0 dead-lettered, 7 redelivered');
    expect(again.stderr).toMatch(/note: 7 record\(s\) are at or below their key's checkpoint/);
    expect(again.stderr).toMatch(/ingest-dlq 2,/);

    // Act 3: a second fresh sample, KPL-aggregated, is new to the database.
    const second = await sampleEvent('second.json', '--with-invalid', '--aggregate');
    const aggregated = await invoke('ingest', second);

    // Assess 3
    expect(aggregated.code, aggregated.stderr).toBe(0);
    expect(notes(aggregated.stderr)).toContain('ingest: 7 record(s): 5 reading(s) written, 0 duplicate(s), 2 dead-lettered, 0 redelivered');
    expect(aggregated.stderr).toMatch(/ingest-dlq 4,/);

    // Act 4: the dead letters outlive the invocations.
    const listed = await run('ops/bin/redrive.ts', ['ingest']);

    // Assess 4
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^invalid records: 4 \(0 discarded, 4 kept\)$/m);
    expect(listed.stdout.match(/^ {2}not_json /gm)).toHaveLength(2);
    expect(listed.stderr).toMatch(/queues: kept in .*queues\.json \(4 message\(s\)\)/);

    // Act 5: the one-screen status of the data dir.
    const status = await run('ops/bin/status.ts', []);

    // Assess 5: red, since the dead letters wait for an operator (and no maintenance ran yet).
    expect(status.code, status.stderr).toBe(1);
    expect(status.stdout).toMatch(/^data dir {4}.*data: nothing runs on it$/m);
    expect(status.stdout).toMatch(/^migrations {2}\d+ applied, none pending$/m);
    expect(status.stdout).toMatch(/^rows {8}telemetry 10, /m);
    expect(status.stdout).toMatch(/^queues {6}tapline-local-ingest-dlq 4, /m);
    expect(status.stdout).toMatch(/^ {2}RED {2}queue tapline-local-ingest-dlq: 4 message\(s\) kept: npm run redrive$/m);
    // Act 6 + Assess 6: verify reads the same kept queues and is red for the same reason.
    const verify = await run('ops/bin/verify.ts', []);
    expect(verify.code, verify.stderr).toBe(1);
    expect(verify.stdout).toMatch(/^ {12}tapline-local-ingest-dlq \(DLQ\) +4 +0$/m);
  });

  it.each([
    ['ingest', 'local/events/kinesis-aws-sample.json', [], { batchItemFailures: [] }],
    ['writer', 'local/events/writer-sqs.json', [], { batchItemFailures: [] }],
    [
      'simulator',
      'local/events/simulator-scheduled.json',
      ['--env', 'SIMULATOR_RATE=50', '--env', 'SIMULATOR_DURATION_SECONDS=1'],
      expect.objectContaining({ produced: 50, failed: 0 }),
    ],
    ['maintenance', 'local/events/maintenance-scheduled.json', [], expect.objectContaining({ warehouse: expect.objectContaining({ engine: 'plain' }) })],
  ] as const)('%s accepts its sample event %s', async (fn, event, more, response) => {
    // Act
    const { code, stdout, stderr } = await invoke(fn, event, ...more);

    // Assess
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual(response);
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
