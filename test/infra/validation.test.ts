import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { loadStageConfig, STAGE_DATA, StageConfigError } from '#config/stages';
import { Database } from '../../infra/constructs/database.ts';
import { Observability } from '../../infra/constructs/observability.ts';
import { RedrivenQueue } from '../../infra/constructs/queues.ts';
import { TaplineFunction } from '../../infra/constructs/tapline-function.ts';
import { TelemetryStream } from '../../infra/constructs/telemetry-stream.ts';
import { TaplineStack } from '../../infra/stacks/tapline-stack.ts';
import { projectRoot } from './synth.ts';

const run = promisify(execFile);
const noBundling = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const stack = () => new Stack(noBundling(), 'T');
const fn = { name: 'ingest', stage: 'dev', projectRoot, entry: 'functions/ingest/handler.ts', memoryMb: 512, timeoutSeconds: 30, logRetentionDays: 14 };
const withDev = (patch: Record<string, unknown>) => ({ ...STAGE_DATA, dev: { ...(STAGE_DATA.dev as object), ...patch } });

describe('the CDK app entry point', () => {
  it('stops with the list of stages when -c stage names none of them', async () => {
    // Act
    const result = await run('npx', ['tsx', 'infra/bin/app.ts'], {
      cwd: projectRoot,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ stage: 'qa' }), CDK_OUTDIR: '/nonexistent' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('unknown stage "qa": expected one of local, dev, staging, prod');
  });

  it('synthesizes dev without -c stage, and says so on stderr', async () => {
    // Prepare: no bundling (what is checked is the stage chosen, not the functions' code).
    const outdir = await mkdtemp(join(tmpdir(), 'tapline-cdk-out-'));
    try {
      // Act
      const result = await run('npx', ['tsx', 'infra/bin/app.ts'], {
        cwd: projectRoot,
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [] }), CDK_OUTDIR: outdir },
      });

      // Assess
      expect(result.stderr).toContain('tapline: no -c stage given: stage dev (one of local, dev, staging, prod)');
      const manifest = JSON.parse(await readFile(join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string }> };
      const stacks = Object.entries(manifest.artifacts)
        .filter(([, a]) => a.type === 'aws:cloudformation:stack')
        .map(([name]) => name);
      expect(stacks.length).toBeGreaterThan(0);
      expect(
        stacks.every((name) => /dev/i.test(name)),
        stacks.join(', '),
      ).toBe(true);
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  });
});

describe('stage config validation', () => {
  it('names the field of a bad value', () => {
    expect(() => loadStageConfig('dev', withDev({ ingest: { ...(STAGE_DATA.dev as { ingest: object }).ingest, batchSize: 20_000 } }))).toThrow(
      /invalid config for stage "dev": ingest\.batchSize/,
    );
  });

  it('rejects a LocalStack database URL that carries a password', () => {
    expect(() => loadStageConfig('dev', withDev({ localstack: { databaseUrl: 'postgres://tapline:secret@timescaledb:5432/tapline' } }))).toThrow(StageConfigError);
  });

  it('refuses a connection budget the reserved concurrency does not fit in', () => {
    // prod: (4 shards x 2 + 10 writers + 1 maintenance) x 2 connections = 38 > 90% of 40
    const prod = STAGE_DATA.prod as { database: object };
    expect(() => loadStageConfig('prod', { ...STAGE_DATA, prod: { ...prod, database: { ...prod.database, maxConnections: 40 } } })).toThrow(
      /database\.maxConnections: the functions may open 38 connections .* but RDS Proxy may open only 36 \(90% of 40\)/,
    );
  });

  it('refuses a deletion-protected stage that would delete its stream or dead letters', () => {
    expect(() => loadStageConfig('prod', { ...STAGE_DATA, prod: { ...(STAGE_DATA.prod as object), retainOnDelete: { stream: true, deadLetterQueues: false } } })).toThrow(
      /retainOnDelete: a stage whose database is deletion-protected must retain/,
    );
  });

  it('refuses an events-queue age alarm that a single retried message would raise, and an on-demand stream budgeted below its first shards', () => {
    const dev = STAGE_DATA.dev as { alarms: object; stream: object };
    expect(() => loadStageConfig('dev', withDev({ alarms: { ...dev.alarms, eventsQueueAgeSeconds: 120 } }))).toThrow(
      /alarms\.eventsQueueAgeSeconds: must exceed the events queue visibility timeout \(181 s\)/,
    );
    expect(() => loadStageConfig('dev', withDev({ stream: { ...dev.stream, shards: 2 } }))).toThrow(/stream\.shards: an on-demand stream opens with 4 shards/);
  });

  it('requires every stage to say, as a boolean, whether its simulator puts aggregated records', () => {
    const dev = STAGE_DATA.dev as { simulator: Record<string, unknown> };
    const { aggregate: _omitted, ...simulator } = dev.simulator;
    expect(() => loadStageConfig('dev', withDev({ simulator }))).toThrow(/simulator\.aggregate/);
    expect(() => loadStageConfig('dev', withDev({ simulator: { ...dev.simulator, aggregate: 'yes' } }))).toThrow(/simulator\.aggregate/);
  });

  it('requires every stage to say whether it uses the dependency layer', () => {
    const { dependencyLayer: _omitted, ...rest } = STAGE_DATA.dev as Record<string, unknown>;
    expect(() => loadStageConfig('dev', { ...STAGE_DATA, dev: rest })).toThrow(/dependencyLayer/);
  });
});

describe('construct validation', () => {
  it('refuses function memory, timeout or log retention outside what Lambda and CloudWatch accept', () => {
    expect(() => new TaplineFunction(stack(), 'F', { ...fn, memoryMb: 64 })).toThrow(/memory must be 128..10240 MB, got 64/);
    expect(() => new TaplineFunction(stack(), 'F', { ...fn, timeoutSeconds: 901 })).toThrow(/timeout must be 1..900 s/);
    expect(() => new TaplineFunction(stack(), 'F', { ...fn, logRetentionDays: 10 })).toThrow(/log retention of 10 days/);
  });

  it('refuses a secret-looking environment variable on a function', () => {
    expect(() => new TaplineFunction(stack(), 'F', { ...fn, environment: { DB_PASSWORD: 'x' } })).toThrow(/secrets never go in environment variables \(DB_PASSWORD\)/);
  });

  it('refuses an iterator-age alarm threshold that would fire only after records start expiring', () => {
    const s = stack();
    const lambda = new TaplineFunction(s, 'F', fn).lambda;
    const stream = new TelemetryStream(s, 'S', { config: { mode: 'on-demand', shards: 1, retentionHours: 24 } }).stream;
    const queue = new RedrivenQueue(s, 'Q', { visibilityTimeout: Duration.seconds(60), maxReceiveCount: 5, deadLetterHolds: 'poison messages of the test' });
    expect(
      () =>
        new Observability(s, 'O', {
          stage: 'dev',
          alarms: { ...loadStageConfig('dev').alarms, iteratorAgeMs: 12 * 3_600_000 },
          streamRetentionHours: 24,
          ingest: lambda,
          writer: lambda,
          functions: { F: lambda },
          stream,
          onFailureQueue: queue.deadLetterQueue,
          invalidRecordsQueue: queue.deadLetterQueue,
          eventsQueue: queue.queue,
          eventsDeadLetterQueue: queue.deadLetterQueue,
          eventsMaxReceiveCount: 5,
          mappings: { ingest: 'uuid-1', writer: 'uuid-2' },
        }),
    ).toThrow(/iteratorAgeMs \(43200000\) must be well under half the stream retention/);
  });

  it('refuses the LocalStack database mode without a URL, and RDS without a network', () => {
    expect(() => new Database(stack(), 'D', { config: { mode: 'embedded' } })).toThrow(/set localstack.databaseUrl/);
    expect(
      () =>
        new Database(stack(), 'D', {
          config: { mode: 'rds', instanceClass: 't4g.micro', allocatedStorageGb: 20, multiAz: false, deletionProtection: false, backupRetentionDays: 1, maxConnections: 80 },
        }),
    ).toThrow(/needs the network/);
  });

  it('refuses a redrive count or stream retention outside what SQS and Kinesis accept', () => {
    expect(() => new RedrivenQueue(stack(), 'Q', { visibilityTimeout: Duration.seconds(60), maxReceiveCount: 0, deadLetterHolds: 'poison messages' })).toThrow(
      /maxReceiveCount must be 1..1000/,
    );
    expect(() => new TelemetryStream(stack(), 'S', { config: { mode: 'provisioned', shards: 1, retentionHours: 12 } })).toThrow(/24..8760 hours/);
  });

  it('refuses a simulator that produces for longer than it may run', () => {
    const config = loadStageConfig('local');
    expect(
      () =>
        new TaplineStack(noBundling(), 'T', {
          projectRoot,
          config: { ...config, simulator: { ...config.simulator, durationSeconds: 60, timeoutSeconds: 60 } },
        }),
    ).toThrow(/simulator.durationSeconds \(60\) must be shorter than its timeout \(60\)/);
  });
});
