import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { logger } from '#core/observability';
import { startSqs, type LocalSqs } from '../../local/services/sqs.ts';
import { lambdaHandler } from '../../functions/writer/handler.ts';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';
import { ruleEvent, sqsEventFromMessages } from '../helpers/sqs.ts';

let pg: MigratedPostgres;
let sqs: LocalSqs;
let client: SQSClient;

beforeAll(async () => {
  [pg, sqs] = await Promise.all([startMigratedPostgres(), startSqs()]);
  process.env.DATABASE_URL = pg.url;
  logger.setLogLevel('SILENT');
  client = new SQSClient({
    endpoint: sqs.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
  });
});

afterAll(async () => {
  client?.destroy();
  await Promise.all([pg?.stop(), sqs?.stop()]);
});

async function queueArn(url: string): Promise<string> {
  const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return out.Attributes?.QueueArn ?? '';
}

async function receiveAll(url: string): Promise<Message[]> {
  const out = await client.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30, MessageSystemAttributeNames: ['All'] }),
  );
  return out.Messages ?? [];
}

/**
 * One poll of the SQS event source mapping, by hand: receive, invoke, delete what succeeded, and
 * make the failed messages visible again at once (what the visibility timeout does, minus the wait).
 */
async function pollOnce(url: string, arn: string): Promise<string[]> {
  const messages = await receiveAll(url);
  if (messages.length === 0) return [];
  // A thrown error fails every message of the batch, as the mapping treats it.
  const all = messages.map((m) => ({ itemIdentifier: m.MessageId ?? '' }));
  const { batchItemFailures } = await lambdaHandler(sqsEventFromMessages(messages, arn)).catch(() => ({ batchItemFailures: all }));
  const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
  const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
  const retry = messages.filter((m) => failed.has(m.MessageId ?? ''));
  if (done.length > 0) {
    await client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
  }
  if (retry.length > 0) {
    await client.send(
      new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: retry.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })) }),
    );
  }
  return messages.map((m) => m.Body ?? '');
}

describe('writer behind an SQS queue with a redrive policy (fauxqs)', () => {
  it('moves a poison message to the DLQ after maxReceiveCount failed receives and writes its neighbour', async () => {
    // Prepare
    const dlq = await client.send(new CreateQueueCommand({ QueueName: 'tapline-test-events-dlq' }));
    const dlqUrl = dlq.QueueUrl ?? '';
    const source = await client.send(
      new CreateQueueCommand({
        QueueName: 'tapline-test-events',
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: await queueArn(dlqUrl), maxReceiveCount: 2 }) },
      }),
    );
    const url = source.QueueUrl ?? '';
    const arn = await queueArn(url);
    const good = ruleEvent({ ruleId: 'boil_over_risk' });
    const poison = '{"v":1,"kind":"rule","id":"not-a-hash"}';
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: poison }));
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(good) }));

    // Act: poll until the source queue has nothing left to deliver (bounded, in case it never drains)
    const delivered: string[] = [];
    for (let round = 0; round < 10; round++) {
      const bodies = await pollOnce(url, arn);
      if (bodies.length === 0) break;
      delivered.push(...bodies);
    }

    // Assess
    expect(delivered.filter((b) => b === poison)).toHaveLength(2);
    const dead = await receiveAll(dlqUrl);
    expect(dead.map((m) => m.Body)).toEqual([poison]);
    expect(await receiveAll(url)).toEqual([]);
    const { rows } = await pg.db.query('SELECT rule_id FROM rule_events WHERE event_id = $1', [good.id]);
    expect(rows).toEqual([{ rule_id: 'boil_over_risk' }]);
  });
});
