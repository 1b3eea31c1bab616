import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_INVOKE_PAYLOAD_BYTES } from '../../local/esm/invokePayload.ts';
import { InvalidMappingError } from '../../local/esm/mappingSettings.ts';
import { bodies, newQueue, queueDepth, REGION, send, sqsMapping, startEmulators, until, type Emulators } from '../helpers/esm.ts';

let emu: Emulators;
beforeAll(async () => {
  emu = await startEmulators();
});
afterAll(() => emu.stop());

/** A queue whose failed messages come back after one second. */
const shortVisibility = (extra: Record<string, string> = {}) => newQueue(emu, { VisibilityTimeout: '1', ...extra });
const failures = (...ids: string[]) => ({ batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) });
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

interface Delivery {
  body: string;
  receiveCount: string;
}

describe('SQS partial batch responses', () => {
  it('deletes what succeeded and keeps the messages reported by messageId, which come back with ApproximateReceiveCount 2', async () => {
    // Prepare
    const queue = await shortVisibility();
    const ids = await send(emu, queue, ['m0', 'm1', 'm2', 'm3', 'm4']);
    const seen: Delivery[] = [];
    const mapping = sqsMapping(emu, queue, async (e: SQSEvent) => {
      seen.push(...e.Records.map((r) => ({ body: r.body, receiveCount: r.attributes.ApproximateReceiveCount })));
      return failures(...e.Records.filter((r) => r.attributes.ApproximateReceiveCount === '1' && [ids[1], ids[3]].includes(r.messageId)).map((r) => r.messageId));
    });

    // Act
    await mapping.start();
    await until('the reported messages came back and succeeded', () => seen.length === 7);
    await mapping.stop();

    // Assess
    expect(
      seen
        .slice(0, 5)
        .map((d) => d.body)
        .sort(),
    ).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(seen.slice(5).sort((a, b) => a.body.localeCompare(b.body))).toEqual([
      { body: 'm1', receiveCount: '2' },
      { body: 'm3', receiveCount: '2' },
    ]);
    expect(await queueDepth(emu, queue)).toBe(0);
  });

  it.each([
    ['reports a messageId not in the batch', async () => failures('not-a-message-of-this-batch')],
    ['reports an entry without itemIdentifier', async () => ({ batchItemFailures: [{}] })],
    ['reports a null itemIdentifier', async () => ({ batchItemFailures: [{ itemIdentifier: null }] })],
    ['reports its failure under a misnamed key', async () => ({ batchItemFailures: [{ messageId: 'x' }] })],
    [
      'throws',
      async () => {
        throw new Error('function error');
      },
    ],
  ])('fails the whole batch when the function %s', async (_, firstResponse) => {
    // Prepare
    const queue = await shortVisibility();
    await send(emu, queue, ['a', 'b']);
    const seen: Delivery[] = [];
    const mapping = sqsMapping(emu, queue, async (e: SQSEvent) => {
      seen.push(...e.Records.map((r) => ({ body: r.body, receiveCount: r.attributes.ApproximateReceiveCount })));
      if (seen.length <= 2) return firstResponse();
    });

    // Act
    await mapping.start();
    await until('both messages delivered again', () => seen.length === 4);
    await mapping.stop();

    // Assess
    expect(seen.slice(2).sort((x, y) => x.body.localeCompare(y.body))).toEqual([
      { body: 'a', receiveCount: '2' },
      { body: 'b', receiveCount: '2' },
    ]);
    expect(await queueDepth(emu, queue)).toBe(0);
  });
});

describe('SQS visibility and redrive', () => {
  it('leaves a failing message to the queue, whose RedrivePolicy moves it to the dead-letter queue after maxReceiveCount', async () => {
    // Prepare
    const dlq = await newQueue(emu);
    const queue = await shortVisibility({ RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }) });
    await send(emu, queue, ['poison', 'fine']);
    const seen: Delivery[] = [];
    const mapping = sqsMapping(emu, queue, async (e: SQSEvent) => {
      seen.push(...e.Records.map((r) => ({ body: r.body, receiveCount: r.attributes.ApproximateReceiveCount })));
      return failures(...e.Records.filter((r) => r.body === 'poison').map((r) => r.messageId));
    });

    // Act
    await mapping.start();
    await until('the poison message is in the DLQ', async () => (await queueDepth(emu, dlq)) === 1 && (await queueDepth(emu, queue)) === 0);
    await mapping.stop();

    // Assess
    expect(seen.filter((d) => d.body === 'poison').map((d) => d.receiveCount)).toEqual(['1', '2']);
    expect(seen.filter((d) => d.body === 'fine')).toHaveLength(1);
    const { Messages: [dead] = [] } = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.url }));
    expect(dead?.Body).toBe('poison');
  });

  it('receives a batch with window + timeout + 30 s when the queue’s visibility is shorter, so no message comes twice', async () => {
    // Prepare: a 1 s queue visibility, while the batch gathers for 2 s and may run for 1 s more.
    const queue = await shortVisibility();
    await send(emu, queue, ['once']);
    const batches: SQSRecord[][] = [];
    const mapping = sqsMapping(emu, queue, async (e: SQSEvent) => void batches.push(e.Records), {
      batchSize: 20,
      batchWindowSeconds: 2,
      functionTimeoutSeconds: 1,
      maxConcurrency: 2,
    });

    // Act
    await mapping.start();
    await until('one batch', () => batches.length === 1);
    await mapping.stop();

    // Assess
    expect(mapping.progress.visibilityTimeoutSeconds).toBe(2 + 1 + 30);
    expect(batches[0]!.map((r) => [r.body, r.attributes.ApproximateReceiveCount])).toEqual([['once', '1']]);
  });
});

describe('SQS batches and scaling', () => {
  it('refuses a batch size over 10 without a batching window of at least 1 s', () => {
    expect(() => sqsMapping(emu, { url: 'u', arn: 'a' }, async () => undefined, { batchSize: 11, batchWindowSeconds: 0 })).toThrow(InvalidMappingError);
    expect(() => sqsMapping(emu, { url: 'u', arn: 'a' }, async () => undefined, { batchSize: 11, batchWindowSeconds: 1 })).not.toThrow();
  });

  it.each([
    ['MaximumConcurrency 1', { maxConcurrency: 1 }],
    ['MaximumConcurrency 1,001', { maxConcurrency: 1_001 }],
    ['BatchSize 10,001', { batchSize: 10_001, batchWindowSeconds: 1 }],
  ])('refuses %s, as CreateEventSourceMapping does', (_, settings) => {
    expect(() => sqsMapping(emu, { url: 'u', arn: 'a' }, async () => undefined, settings)).toThrow(InvalidMappingError);
  });

  it('runs up to MaximumConcurrency batches at once, never more', async () => {
    // Prepare
    const queue = await newQueue(emu);
    await send(
      emu,
      queue,
      Array.from({ length: 24 }, (_, i) => `m${i}`),
    );
    let active = 0;
    let maxActive = 0;
    let peaked = false;
    let delivered = 0;
    const mapping = sqsMapping(
      emu,
      queue,
      async (e: SQSEvent) => {
        maxActive = Math.max(maxActive, ++active);
        // The first batches wait for each other: 24 messages are there for every poller from the start.
        if (!peaked) await until('three batches at once', () => active === 3, 10_000).finally(() => (peaked = true));
        await sleep(5);
        delivered += e.Records.length;
        active--;
      },
      { batchSize: 1, maxConcurrency: 3 },
    );

    // Act
    await mapping.start();
    await until('every message', () => delivered === 24);
    await mapping.stop();

    // Assess
    expect(maxActive).toBe(3);
    expect(mapping.progress.maxInFlight).toBe(3);
  });

  it('cuts a batch before the serialized event passes 6 MB, and carries the rest to the next batch', async () => {
    // Prepare: 80 messages of 200 kB, 16 MB: the two pollers' first batches cannot hold it all.
    const queue = await newQueue(emu);
    const big = (i: number) => `${String(i).padStart(4, '0')}${'x'.repeat(200_000)}`;
    await send(
      emu,
      queue,
      Array.from({ length: 80 }, (_, i) => big(i)),
    );
    const events: SQSEvent[] = [];
    const mapping = sqsMapping(emu, queue, async (e: SQSEvent) => void events.push(e), { batchSize: 100, batchWindowSeconds: 1, maxConcurrency: 2 });

    // Act
    await mapping.start();
    await until('every message', () => events.reduce((n, e) => n + e.Records.length, 0) >= 80);
    await mapping.stop();

    // Assess: each event fits, the largest could not have taken one more message, and each message came once.
    for (const e of events) expect(bytes(e)).toBeLessThanOrEqual(MAX_INVOKE_PAYLOAD_BYTES);
    const largest = Math.max(...events.map(bytes));
    const smallestRecord = Math.min(...events.flatMap((e) => e.Records.map(bytes)));
    expect(largest + 1 + smallestRecord).toBeGreaterThan(MAX_INVOKE_PAYLOAD_BYTES);
    expect(events.flatMap((e) => e.Records.map((r) => r.body.slice(0, 4))).sort()).toEqual(Array.from({ length: 80 }, (_, i) => String(i).padStart(4, '0')));
    expect(await queueDepth(emu, queue)).toBe(0);
  });
});

describe('SQS event records', () => {
  it('carries the message attributes and the system attributes as Lambda does', async () => {
    // Prepare
    const queue = await newQueue(emu);
    const sent = await emu.sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: 'with attributes',
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'rule' },
          count: { DataType: 'Number', StringValue: '3' },
          raw: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2, 3]) },
        },
      }),
    );
    const records: SQSRecord[] = [];
    const mapping = sqsMapping(emu, queue, async (e: SQSEvent) => void records.push(...e.Records));

    // Act
    await mapping.start();
    await until('the message', () => records.length === 1);
    await mapping.stop();

    // Assess
    const r = records[0]!;
    expect(r).toEqual({
      messageId: sent.MessageId,
      receiptHandle: expect.any(String),
      body: 'with attributes',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d{13}$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      },
      messageAttributes: {
        kind: { stringValue: 'rule', stringListValues: [], binaryListValues: [], dataType: 'String' },
        count: { stringValue: '3', stringListValues: [], binaryListValues: [], dataType: 'Number' },
        raw: { binaryValue: Buffer.from([1, 2, 3]).toString('base64'), stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
      md5OfBody: sent.MD5OfMessageBody,
      md5OfMessageAttributes: sent.MD5OfMessageAttributes,
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: REGION,
    });
  });

  it('carries AWSTraceHeader where the message has one, and DeadLetterQueueSourceArn on a message its queue redrove', async () => {
    // Prepare: a traced message, and one moved to a dead-letter queue after its one allowed receive.
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';
    const dlq = await newQueue(emu);
    const source = await newQueue(emu, { VisibilityTimeout: '0', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }) });
    await emu.sqs.send(
      new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: 'traced', MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: trace } } }),
    );
    await send(emu, source, ['redriven']);
    await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: source.url }));
    await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: source.url })); // the second receive moves it
    const records: SQSRecord[] = [];
    const mapping = sqsMapping(emu, dlq, async (e: SQSEvent) => void records.push(...e.Records));

    // Act
    await mapping.start();
    await until('both messages', () => records.length === 2);
    await mapping.stop();

    // Assess
    const byBody = Object.fromEntries(records.map((r) => [r.body, r.attributes]));
    expect(byBody.traced).toMatchObject({ AWSTraceHeader: trace });
    expect(byBody.traced).not.toHaveProperty('DeadLetterQueueSourceArn');
    expect(byBody.redriven).toMatchObject({ DeadLetterQueueSourceArn: source.arn });
    expect(byBody.redriven).not.toHaveProperty('AWSTraceHeader');
  });

  it('carries MessageGroupId, MessageDeduplicationId and SequenceNumber from a FIFO queue', async () => {
    // Prepare
    const queue = await newQueue(emu, { FifoQueue: 'true' }, '.fifo');
    await emu.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'ordered', MessageGroupId: 'FBE_01', MessageDeduplicationId: 'd-1' }));
    const records: SQSRecord[] = [];
    const mapping = sqsMapping(emu, queue, async (e: SQSEvent) => void records.push(...e.Records));

    // Act
    await mapping.start();
    await until('the message', () => records.length === 1);
    await mapping.stop();

    // Assess
    expect(records[0]!.attributes).toMatchObject({ MessageGroupId: 'FBE_01', MessageDeduplicationId: 'd-1', SequenceNumber: expect.stringMatching(/^\d+$/) });
    expect(await bodies(emu, queue)).toEqual([]);
  });

  it('refuses batches over 10 or a batching window on a FIFO queue', async () => {
    const queue = await newQueue(emu, { FifoQueue: 'true' }, '.fifo');
    await expect(sqsMapping(emu, queue, async () => undefined, { batchSize: 20, batchWindowSeconds: 1 }).start()).rejects.toThrow(InvalidMappingError);
  });
});
