import { fileURLToPath } from 'node:url';
import { CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { kinesisClient, sqsClient } from '#core/aws';
import { eventsVisibilitySeconds, type StageConfig } from '#config/stages';
import { connectDatabase, type Database } from '#core/db/connect';
import { migrate, type MigrationReport } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { readEnv } from '#core/env';
import { startKinesis } from './services/kinesis.ts';
import { startPostgres, type LocalPostgres } from './services/postgres.ts';
import { restoreQueues, saveQueues } from './services/queueState.ts';
import { startSqs } from './services/sqs.ts';
import { startServiceProcess } from './services/serviceProcess.ts';

export interface Queue {
  url: string;
  arn: string;
}

export interface LocalEnvironment {
  config: StageConfig;
  region: string;
  databaseUrl: string;
  /** The Kinesis endpoint (kinesalite, or AWS_ENDPOINT_URL). */
  awsEndpoint: string;
  /** The SQS endpoint (fauxqs, or AWS_ENDPOINT_URL). */
  sqsEndpoint: string;
  streamName: string;
  streamArn: string;
  queues: { ingestDlq: Queue; onFailure: Queue; events: Queue; eventsDlq: Queue };
  kinesis: KinesisClient;
  sqs: SQSClient;
  db: Database;
  migration: MigrationReport;
  /** The embedded PostgreSQL, when one was started (fault tests pause and resume it). */
  postgres?: LocalPostgres;
  /** Environment variables the handlers read, as CDK sets them in AWS. */
  functionEnv: Record<string, string>;
  /** Messages put back into the emulated queues from the kept queue state. */
  restoredMessages: number;
  /** The queues are fauxqs's (not AWS_ENDPOINT_URL's): their messages can be inspected without receiving them. */
  emulatedQueues: boolean;
  stop(): Promise<void>;
}

export interface EnvironmentOptions {
  config: StageConfig;
  /** Use this database instead of starting the embedded one (e.g. a Timescale container). */
  databaseUrl?: string;
  /** Use this AWS endpoint instead of starting the emulators (e.g. LocalStack). */
  awsEndpoint?: string;
  /** Run the emulators in child processes (the bench: the stream's and the queue's work is not the functions'). */
  emulatorProcesses?: boolean;
  /** Keep the embedded database here between runs. */
  pgDataDir?: string;
  /** Keep the emulated queues' messages in this file between runs (services/queueState.ts). */
  queueStateFile?: string;
}

/** Where migrations/ is, whatever the working directory. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

const REGION = 'us-east-1';

/**
 * Brings up what the pipeline needs on one machine: embedded PostgreSQL, a Kinesis and an SQS
 * emulator on 127.0.0.1 (or the given DATABASE_URL / AWS_ENDPOINT_URL), then migrates and creates
 * the stream and queues with the stage's names and settings.
 */
export async function startLocalEnvironment(o: EnvironmentOptions): Promise<LocalEnvironment> {
  const stops: Array<() => Promise<void>> = [];
  try {
    const [postgres, kinesisEmu, sqsEmu] = await Promise.all([
      o.databaseUrl ? undefined : startPostgres(o.pgDataDir ? { dataDir: o.pgDataDir } : {}),
      o.awsEndpoint ? undefined : o.emulatorProcesses ? startServiceProcess('kinesis') : startKinesis(),
      o.awsEndpoint ? undefined : o.emulatorProcesses ? startServiceProcess('sqs') : startSqs(),
    ]);
    for (const s of [postgres, kinesisEmu, sqsEmu]) if (s) stops.unshift(() => s.stop());
    const databaseUrl = o.databaseUrl ?? postgres!.url;
    const awsEndpoint = o.awsEndpoint ?? kinesisEmu!.endpoint;
    const sqsEndpoint = o.awsEndpoint ?? sqsEmu!.endpoint;

    // The SDK reads endpoint and credentials from the environment, here as in every handler.
    process.env.AWS_REGION = REGION;
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    process.env.AWS_ENDPOINT_URL_KINESIS = awsEndpoint;
    process.env.AWS_ENDPOINT_URL_SQS = sqsEndpoint;
    const kinesis = kinesisClient(REGION);
    const sqs = sqsClient(REGION);

    const db = await connectDatabase(readEnv({ DATABASE_URL: databaseUrl, STAGE: o.config.stage }));
    stops.unshift(() => db.end());
    const migration = await migrate(db, await readMigrations(MIGRATIONS_DIR));

    const prefix = `tapline-${o.config.stage}`;
    const streamName = `${prefix}-telemetry`;
    const streamArn = await ensureStream(kinesis, streamName, o.config);
    const ingestDlq = await ensureQueue(sqs, `${prefix}-ingest-dlq`, {});
    const onFailure = await ensureQueue(sqs, `${prefix}-ingest-onfailure`, {});
    const eventsDlq = await ensureQueue(sqs, `${prefix}-events-dlq`, {});
    const events = await ensureQueue(sqs, `${prefix}-events`, {
      VisibilityTimeout: String(eventsVisibilitySeconds(o.config)),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: eventsDlq.arn, maxReceiveCount: o.config.eventsQueue.maxReceiveCount }),
    });
    const queues = { ingestDlq, onFailure, events, eventsDlq };
    // Only the emulator's queues are kept: LocalStack's and AWS's keep their messages themselves.
    const keptIn = o.awsEndpoint ? undefined : o.queueStateFile;
    const byName = Object.fromEntries(Object.values(queues).map((q) => [queueName(q), q.url]));
    const restoredMessages = keptIn ? await restoreQueues(keptIn, sqs, byName) : 0;

    const functionEnv: Record<string, string> = {
      STAGE: o.config.stage,
      AWS_REGION: REGION,
      STREAM_NAME: streamName,
      INGEST_DLQ_URL: ingestDlq.url,
      EVENTS_QUEUE_URL: events.url,
      DATABASE_URL: databaseUrl,
      DB_POOL_MAX: '2',
      TS_MAX_PAST_SECONDS: String(o.config.validation.maxPastSeconds),
      TS_MAX_FUTURE_SECONDS: String(o.config.validation.maxFutureSeconds),
      SIMULATOR_RATE: String(o.config.simulator.ratePerSecond),
      SIMULATOR_DURATION_SECONDS: String(o.config.simulator.durationSeconds),
      SIMULATOR_SEED: String(o.config.simulator.seed),
      SIMULATOR_AGGREGATE: String(o.config.simulator.aggregate),
    };
    return {
      config: o.config,
      region: REGION,
      databaseUrl,
      awsEndpoint,
      sqsEndpoint,
      streamName,
      streamArn,
      queues,
      kinesis,
      sqs,
      db,
      migration,
      ...(postgres ? { postgres } : {}),
      functionEnv,
      restoredMessages,
      emulatedQueues: !o.awsEndpoint,
      async stop() {
        try {
          if (keptIn) await saveQueues(keptIn, sqsEndpoint, Object.keys(byName));
        } finally {
          kinesis.destroy();
          sqs.destroy();
          for (const stop of stops) await stop();
        }
      },
    };
  } catch (e) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw e;
  }
}

async function ensureStream(kinesis: KinesisClient, name: string, config: StageConfig): Promise<string> {
  const describe = () => kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  let summary = await describe().catch(() => undefined);
  if (!summary) {
    // Local emulators have no on-demand mode: on-demand stages get the same shard count locally.
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: config.stream.shards }));
  }
  for (let i = 0; i < 100; i++) {
    summary = await describe();
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return summary.StreamDescriptionSummary.StreamARN ?? name;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

async function ensureQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<Queue> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!QueueUrl) throw new Error(`queue ${name} was not created`);
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl, arn: Attributes?.QueueArn ?? name };
}

export const queueName = (q: Queue): string => q.url.slice(q.url.lastIndexOf('/') + 1);

export async function queueDepth(sqs: SQSClient, queue: Queue): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}
