import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { kinesisClient } from '#core/aws';
import { deaggregate } from '#core/kpl/deaggregate';
import { logger, metrics } from '#core/observability';
import { putRecords } from '#core/producer';
import { decodeRecord } from '#core/record';
import { startKinesis, type LocalKinesis } from '../../local/services/kinesis.ts';
import { createStream, emulatorClient, readWholeStream } from '../helpers/kinesis.ts';
import { lambdaContext } from '../helpers/pipeline.ts';

const STREAM = 'tapline-test-telemetry';
const WINDOW = { maxPastSeconds: 7 * 24 * 3600, maxFutureSeconds: 300 };

let emulator: LocalKinesis;
let kinesis: KinesisClient;

/** What Lambda passes; the local runner passes the same shape with a generous time budget. */
const context = (remainingMs = 600_000): Context => lambdaContext(remainingMs, 'tapline-simulator', 512);

beforeAll(async () => {
  emulator = await startKinesis();
  kinesis = emulatorClient(emulator.endpoint);
  await createStream(kinesis, STREAM, 2);
  // The handler reads its settings and builds its client at import, as in a Lambda cold start.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emulator.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    STREAM_NAME: STREAM,
    SIMULATOR_RATE: '50',
    SIMULATOR_DURATION_SECONDS: '1',
    SIMULATOR_SEED: '3',
  });
  logger.setLogLevel('SILENT');
});

afterAll(async () => {
  kinesis?.destroy();
  await emulator?.stop();
});

afterEach(() => {
  vi.restoreAllMocks();
  metrics.clearMetrics();
});

describe('simulator handler against kinesalite', () => {
  it('puts exactly what it reports as sent, valid and partitioned by source', async () => {
    // Prepare
    const { handler } = await import('../../functions/simulator/handler.ts');
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const before = (await readWholeStream(kinesis, STREAM)).length;

    // Act
    const response = await handler({ rate: 400, durationSeconds: 2, seed: 7 }, context());

    // Assess
    expect(response).toEqual({ produced: 800, sent: 800, invalid: 0, failed: 0, kinesisRecords: 800, retries: 0, throttled: 0, stoppedEarly: false });
    const stored = await readWholeStream(kinesis, STREAM);
    expect(stored.length - before).toBe(response.sent);
    const decoded = stored.map((r) => decodeRecord(Buffer.from(r.data).toString('base64'), Date.now(), WINDOW));
    expect(decoded.filter((d) => !d.ok)).toEqual([]);
    const shardsOfSource = new Map<string, Set<string>>();
    stored.forEach((r, i) => {
      const d = decoded[i];
      if (!d?.ok) return;
      expect(r.partitionKey).toBe(d.record.source);
      shardsOfSource.set(r.partitionKey, (shardsOfSource.get(r.partitionKey) ?? new Set()).add(r.shardId));
    });
    expect(shardsOfSource.size).toBe(11);
    for (const shards of shardsOfSource.values()) expect(shards.size).toBe(1);
    expect(new Set(stored.map((r) => r.shardId)).size).toBe(2);
    expect(addMetric).toHaveBeenCalledWith('SimulatorRecordsSent', MetricUnit.Count, 800);
    expect(addMetric).toHaveBeenCalledWith('SimulatorRecordsFailed', MetricUnit.Count, 0);
    expect(addMetric).toHaveBeenCalledWith('SimulatorKinesisRecordsPut', MetricUnit.Count, 800);
  });

  it('puts KPL aggregates when asked: fewer Kinesis records, every reading inside, one source per aggregate and shard', async () => {
    // Prepare
    const { handler } = await import('../../functions/simulator/handler.ts');
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const earlier = new Set((await readWholeStream(kinesis, STREAM)).map((r) => r.sequenceNumber));

    // Act
    const response = await handler({ rate: 400, durationSeconds: 2, seed: 8, aggregate: true }, context());

    // Assess
    const stored = (await readWholeStream(kinesis, STREAM)).filter((r) => !earlier.has(r.sequenceNumber));
    expect(response).toMatchObject({ produced: 800, sent: 800, failed: 0, kinesisRecords: stored.length });
    expect(stored.length).toBeLessThan(800 / 2);
    const shardsOfSource = new Map<string, Set<string>>();
    const readings = stored.flatMap((r) => {
      const d = deaggregate(Buffer.from(r.data));
      if (d.kind !== 'aggregate') throw new Error(`stored record is ${d.kind}`);
      shardsOfSource.set(r.partitionKey, (shardsOfSource.get(r.partitionKey) ?? new Set()).add(r.shardId));
      return d.records.map((u) => ({ parentKey: r.partitionKey, ...u, decoded: decodeRecord(u.data.toString('base64'), Date.now(), WINDOW) }));
    });
    expect(readings).toHaveLength(800);
    for (const r of readings) {
      expect(r.decoded.ok && r.decoded.record.source).toBe(r.parentKey);
      expect(r.partitionKey).toBe(r.parentKey);
    }
    expect(shardsOfSource.size).toBe(11);
    for (const shards of shardsOfSource.values()) expect(shards.size).toBe(1);
    expect(addMetric).toHaveBeenCalledWith('SimulatorRecordsSent', MetricUnit.Count, 800);
    expect(addMetric).toHaveBeenCalledWith('SimulatorKinesisRecordsPut', MetricUnit.Count, stored.length);
  });

  it('stops producing when the remaining invocation time reaches the safety margin', async () => {
    // Prepare
    const { lambdaHandler } = await import('../../functions/simulator/handler.ts');

    // Act: 5 s left is inside the margin, so not even the first tick is produced
    const response = await lambdaHandler({ rate: 100, durationSeconds: 10, seed: 1 }, context(5_000));

    // Assess
    expect(response).toMatchObject({ produced: 0, sent: 0, stoppedEarly: true });
  });

  it('runs the configured plan for an EventBridge scheduled event and rejects a malformed override', async () => {
    // Prepare
    const { lambdaHandler, InvalidSimulatorEventError } = await import('../../functions/simulator/handler.ts');
    const scheduled = {
      version: '0',
      id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/tapline-simulator'],
      detail: {},
    };

    // Act
    const configured = await lambdaHandler(scheduled, context());
    const invalid = lambdaHandler({ rate: 'fast' }, context());

    // Assess: SIMULATOR_RATE 50 x SIMULATOR_DURATION_SECONDS 1
    expect(configured).toMatchObject({ produced: 50, sent: 50, failed: 0 });
    await expect(invalid).rejects.toBeInstanceOf(InvalidSimulatorEventError);
  });
});

describe('producer against kinesalite', () => {
  it('reports every entry as failed, without retrying, when the stream does not exist', async () => {
    // Prepare
    const client = kinesisClient('us-east-1');
    const sleep = vi.fn(async () => undefined);
    const entries = [
      { data: Buffer.from('{}'), partitionKey: 'FBE_01' },
      { data: Buffer.from('{}'), partitionKey: 'FBE_02' },
    ];

    // Act
    const result = await putRecords(client, 'no-such-stream', entries, { sleep });

    // Assess
    expect(sleep).not.toHaveBeenCalled();
    expect(result.sent).toBe(0);
    expect(result.failed.map((f) => [f.partitionKey, f.errorCode])).toEqual([
      ['FBE_01', 'ResourceNotFoundException'],
      ['FBE_02', 'ResourceNotFoundException'],
    ]);
    client.destroy();
  });
});
