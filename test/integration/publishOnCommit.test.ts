import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpRequest } from '@smithy/types';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ingestBatch } from '#core/ingest/ingestBatch';
import type { StreamRecord } from '#core/ingest/streamRecord';
import { installSendGate } from '#core/queue';
import { loadRuleSet } from '#core/rules/ruleSet';
import { startSqs, type LocalSqs } from '../../local/services/sqs.ts';
import { MemoryIngestStore } from '../helpers/memoryIngestStore.ts';
import { BASE_MS, streamRecord, telemetry } from '../helpers/records.ts';

/**
 * Ingest makes and signs its SendMessageBatch requests while COMMIT travels and sends them once it
 * is in (outboxPublisher.ts, publishOnCommit): on the real SDK against the local SQS, with the
 * commit held until the requests are ready, so what left the function before it is seen.
 */
const ruleSet = loadRuleSet({ version: 't.1', rules: [{ id: 'hot', description: 'too warm', when: [{ fact: 'temperature_c', op: '>', value: 1000 }] }] });
const window = { maxPastSeconds: 7 * 86_400, maxFutureSeconds: 300 };
const NO_WAIT = { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

let sqsServer: LocalSqs;
let client: SQSClient;
/** SendMessageBatch requests that reached the HTTP handler: what left the function. */
let sentRequests: HttpRequest[] = [];
/** Requests signed and waiting before the HTTP handler, and whoever waits for a number of them. */
let ready: HttpRequest[] = [];
let onReady: () => void = () => undefined;
let queues: { events: string; 'ingest-dlq': string };

beforeAll(async () => {
  sqsServer = await startSqs();
  const counting = new (class extends NodeHttpHandler {
    override handle(...args: Parameters<NodeHttpHandler['handle']>) {
      if (args[0].headers['x-amz-target']?.endsWith('.SendMessageBatch')) sentRequests.push(args[0]);
      return super.handle(...args);
    }
  })();
  client = new SQSClient({
    endpoint: sqsServer.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: counting,
    useQueueUrlAsEndpoint: false,
    cacheMiddleware: true,
  });
  // Outside the gate (it is the last step before the handler): sees each request once it is signed.
  client.middlewareStack.add(
    (next) => async (args) => {
      if (args.input && 'Entries' in args.input) {
        ready.push(args.request as HttpRequest);
        onReady();
      }
      return next(args);
    },
    { step: 'deserialize', priority: 'high', name: 'testSeesReady' },
  );
  installSendGate(client);
});
afterAll(async () => {
  client.destroy();
  await sqsServer.stop();
});

beforeEach(async () => {
  const suffix = Math.random().toString(36).slice(2, 8);
  const make = async (name: string) => (await client.send(new CreateQueueCommand({ QueueName: `${name}-${suffix}` }))).QueueUrl!;
  queues = { events: await make('events'), 'ingest-dlq': await make('dlq') };
  sentRequests = [];
  ready = [];
  onReady = () => undefined;
});

const readyCount = (n: number) =>
  new Promise<void>((resolve) => {
    onReady = () => ready.length >= n && resolve();
    onReady();
  });

async function bodies(url: string): Promise<string[]> {
  const out = await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return (out.Messages ?? []).map((m) => m.Body ?? '');
}

/** A batch that derives one rule firing (events queue) and holds one invalid record (dead-letter queue). */
function batchWithEventAndDeadLetter(seq: number) {
  return [streamRecord(telemetry({ value: 1500 }, -1_000), seq), streamRecord('not base64 at all!', seq + 1)];
}

const ingest = (store: MemoryIngestStore, batch: StreamRecord[]) =>
  ingestBatch(batch, { store, sqs: client, queues, ruleSet, window, mode: 'merge', now: () => BASE_MS + 60_000, dbRetry: NO_WAIT, sendRetry: NO_WAIT });

describe('ingest publishes its outbox messages on commit', () => {
  it('makes and signs its SendMessageBatch requests while COMMIT travels, and sends none until it is in', async () => {
    // Prepare: the commit waits for both requests (events, dead letters) to be signed and held.
    const store = new MemoryIngestStore();
    let commit!: () => void;
    store.beforeCommit = () => new Promise<void>((resolve) => (commit = resolve));
    // Act
    const ingesting = ingest(store, batchWithEventAndDeadLetter(100));
    await readyCount(2);
    // Assess: signed, not sent, nothing in the queues yet.
    expect(ready.map((r) => typeof r.headers.authorization)).toEqual(['string', 'string']);
    expect(sentRequests).toHaveLength(0);
    expect([await bodies(queues.events), await bodies(queues['ingest-dlq'])]).toEqual([[], []]);
    commit();
    const report = await ingesting;
    expect(report).toMatchObject({ derivedEvents: 1, deadLettered: 1, published: 2, publishFailed: 0 });
    expect(sentRequests).toHaveLength(2);
    expect((await bodies(queues.events)).map((b) => (JSON.parse(b) as { events: Array<{ ruleId: string }> }).events.map((e) => e.ruleId))).toEqual([['hot']]);
    expect(await bodies(queues['ingest-dlq'])).toHaveLength(1);
    expect(store.unsent('events')).toEqual([]);
  });

  it('sends nothing when the commit fails after the requests were made, and leaves nothing behind', async () => {
    const store = new MemoryIngestStore();
    let fail!: (e: Error) => void;
    store.beforeCommit = () => new Promise<void>((_, reject) => (fail = reject));
    // Act
    const ingesting = ingest(store, batchWithEventAndDeadLetter(200));
    ingesting.catch(() => undefined);
    await readyCount(2);
    fail(new Error('the database refused COMMIT'));
    // Assess
    await expect(ingesting).rejects.toThrow('the database refused COMMIT');
    expect(sentRequests).toHaveLength(0);
    expect([await bodies(queues.events), await bodies(queues['ingest-dlq'])]).toEqual([[], []]);
    expect(store.tables.outbox.size).toBe(0);
  });

  it('cancels the requests of messages the commit did not claim (a redelivered batch, already sent), and sends what it claimed instead', async () => {
    // Prepare: the batch once, sent; then a message left unsent by an earlier batch.
    const store = new MemoryIngestStore();
    const batch = batchWithEventAndDeadLetter(300);
    await ingest(store, batch);
    expect([await bodies(queues.events), await bodies(queues['ingest-dlq'])].map((b) => b.length)).toEqual([1, 1]);
    const leftOver = { destination: 'events' as const, id: 'left-over', body: '{"left":"over"}' };
    store.tables.outbox.set(`events\u0000left-over`, { message: leftOver, sent: false, claimed: false });
    sentRequests = [];
    ready = [];
    // Act: Lambda delivers the same batch again.
    const report = await ingest(store, batch);
    // Assess: the dead letter's request was made, then cancelled (the rule, active already, fired
    // no event again); only the left-over message went.
    expect(report).toMatchObject({ redelivered: 2, derivedEvents: 0, published: 1, publishFailed: 0 });
    expect(ready.length).toBe(2);
    expect(sentRequests).toHaveLength(1);
    expect(await bodies(queues.events)).toEqual(['{"v":1,"events":[{"left":"over"}]}']);
    expect(await bodies(queues['ingest-dlq'])).toEqual([]);
    expect(store.unsent('events')).toEqual([]);
  });
});
