import { randomUUID } from 'node:crypto';
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { LambdaInvoker } from '../../local/esm/invoker.ts';
import { KinesisEventSource, type KinesisMappingSettings, type MappingTiming } from '../../local/esm/kinesisEventSource.ts';
import { SqsEventSource, type SqsMappingSettings } from '../../local/esm/sqsEventSource.ts';
import { startKinesis } from '../../local/services/kinesis.ts';
import { startSqs } from '../../local/services/sqs.ts';
import { createStream, emulatorClient } from './kinesis.ts';
import { chunk } from '#core/chunks';

export const REGION = 'us-east-1';

/** kinesalite and fauxqs on 127.0.0.1, reached through the real SDK, shared by one test file. */
export interface Emulators {
  kinesis: KinesisClient;
  sqs: SQSClient;
  /** A client of its own, for a test that adds middleware to it (fault injection). */
  newKinesisClient(): KinesisClient;
  stop(): Promise<void>;
}

export async function startEmulators(): Promise<Emulators> {
  const [kinesalite, fauxqs] = await Promise.all([startKinesis(), startSqs()]);
  const kinesis = emulatorClient(kinesalite.endpoint);
  const sqs = new SQSClient({
    endpoint: fauxqs.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    useQueueUrlAsEndpoint: false,
  });
  return {
    kinesis,
    sqs,
    newKinesisClient: () => emulatorClient(kinesalite.endpoint),
    async stop() {
      kinesis.destroy();
      sqs.destroy();
      await Promise.all([kinesalite.stop(), fauxqs.stop()]);
    },
  };
}

export interface Stream {
  name: string;
  arn: string;
}

export async function newStream(emu: Emulators, shards = 1): Promise<Stream> {
  const name = `esm-${randomUUID().slice(0, 8)}`;
  await createStream(emu.kinesis, name, shards);
  return { name, arn: `arn:aws:kinesis:${REGION}:000000000000:stream/${name}` };
}

export interface Queue {
  url: string;
  arn: string;
}

export async function newQueue(emu: Emulators, attributes: Record<string, string> = {}, suffix = ''): Promise<Queue> {
  const { QueueUrl } = await emu.sqs.send(new CreateQueueCommand({ QueueName: `esm-${randomUUID().slice(0, 8)}${suffix}`, Attributes: attributes }));
  const { Attributes } = await emu.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl!, arn: Attributes!.QueueArn! };
}

export interface Put {
  partitionKey: string;
  data: string | Uint8Array;
  /** Picks the shard regardless of the key (see SHARD_HASH). */
  explicitHashKey?: string;
}

/** Explicit hash keys inside the first and the second shard of a two-shard stream. */
export const SHARD_HASH = { first: '1', second: (2n ** 127n + 1n).toString() } as const;

/** Puts records in order, 500 per call; returns their sequence numbers and shards, index for index. */
export async function put(emu: Emulators, stream: Stream, records: readonly Put[]): Promise<Array<{ sequenceNumber: string; shardId: string }>> {
  const out: Array<{ sequenceNumber: string; shardId: string }> = [];
  for (const call of chunk(records, { maxItems: 500 })) {
    const res = await emu.kinesis.send(
      new PutRecordsCommand({
        StreamName: stream.name,
        Records: call.map((r) => ({
          PartitionKey: r.partitionKey,
          Data: typeof r.data === 'string' ? Buffer.from(r.data) : r.data,
          ...(r.explicitHashKey ? { ExplicitHashKey: r.explicitHashKey } : {}),
        })),
      }),
    );
    if (res.FailedRecordCount) throw new Error(`${res.FailedRecordCount} records not accepted`);
    for (const e of res.Records ?? []) out.push({ sequenceNumber: e.SequenceNumber!, shardId: e.ShardId! });
  }
  return out;
}

/** `n` records under one partition key, with their index as data. */
export const records = (n: number, partitionKey = 'k', from = 0): Put[] => Array.from({ length: n }, (_, i) => ({ partitionKey, data: `r${from + i}` }));

export const dataOf = (r: KinesisStreamRecord): string => Buffer.from(r.kinesis.data, 'base64').toString('utf8');

/** Timing knobs short enough that a test waits on events, not on the mapping's pacing. */
export const FAST: Partial<MappingTiming> = { pollIntervalMs: 5, retryBaseMs: 1, retryMaxMs: 5, shardDiscoveryMs: 20 };

export const KINESIS_DEFAULTS: KinesisMappingSettings = {
  batchSize: 100,
  batchWindowSeconds: 0,
  parallelizationFactor: 1,
  bisectOnError: false,
  maxRetryAttempts: -1,
  maxRecordAgeSeconds: -1,
  reportBatchItemFailures: true,
};

/** Returns a KinesisStreamBatchResponse, nothing, or anything else (a malformed response, as Lambda may get). */
export type ScriptedHandler = (event: KinesisStreamEvent) => Promise<unknown>;

/** A Kinesis mapping on `stream` that invokes `handler` directly, with an OnFailure queue of its own. */
export async function kinesisMapping(
  emu: Emulators,
  stream: Stream,
  handler: ScriptedHandler,
  settings: Partial<KinesisMappingSettings> = {},
  timing: Partial<MappingTiming> = {},
): Promise<{ mapping: KinesisEventSource; onFailure: Queue }> {
  const onFailure = await newQueue(emu);
  const mapping = new KinesisEventSource({
    kinesis: emu.kinesis,
    sqs: emu.sqs,
    streamName: stream.name,
    streamArn: stream.arn,
    region: REGION,
    functionName: 'conformance',
    settings: { ...KINESIS_DEFAULTS, ...settings },
    // A scripted handler may return anything, as a real one may: the mapping must cope.
    invoke: handler as LambdaInvoker<KinesisStreamEvent, KinesisStreamBatchResponse | void>,
    onFailureQueueUrl: onFailure.url,
    timing: { ...FAST, ...timing },
  });
  return { mapping, onFailure };
}

/** Waits for a condition the test expects to become true; the timeout is only a safety net. */
export async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((ok) => setTimeout(ok, 5));
  }
}

/** Every message body in a queue (each received once, left invisible for a minute). */
export async function bodies(emu: Emulators, queue: Queue): Promise<unknown[]> {
  const out: unknown[] = [];
  for (;;) {
    const res = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }));
    if (!res.Messages?.length) return out;
    out.push(...res.Messages.map((m) => JSON.parse(m.Body ?? 'null') as unknown));
  }
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function latch(): { promise: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const promise = new Promise<void>((ok) => (open = ok));
  return { promise, open };
}

export const SQS_DEFAULTS: SqsMappingSettings = {
  batchSize: 10,
  batchWindowSeconds: 0,
  maxConcurrency: 2,
  reportBatchItemFailures: true,
  functionTimeoutSeconds: 1,
};

/** Returns an SQSBatchResponse, nothing, or anything else (a malformed response, as Lambda may get). */
export type ScriptedSqsHandler = (event: SQSEvent) => Promise<unknown>;

/** An SQS mapping on `queue` that invokes `handler` directly. */
export function sqsMapping(emu: Emulators, queue: Queue, handler: ScriptedSqsHandler, settings: Partial<SqsMappingSettings> = {}): SqsEventSource {
  return new SqsEventSource({
    sqs: emu.sqs,
    queueUrl: queue.url,
    queueArn: queue.arn,
    region: REGION,
    settings: { ...SQS_DEFAULTS, ...settings },
    invoke: handler as LambdaInvoker<SQSEvent, SQSBatchResponse | void>,
    // Short polls: a message whose visibility ends is seen within milliseconds, not at the next long poll.
    timing: { longPollSeconds: 0, idlePollMs: 5, retryBaseMs: 1, retryMaxMs: 5 },
  });
}

export async function send(emu: Emulators, queue: Queue, bodies: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const body of bodies) ids.push((await emu.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }))).MessageId!);
  return ids;
}

export async function queueDepth(emu: Emulators, queue: Queue): Promise<number> {
  const { Attributes } = await emu.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}
