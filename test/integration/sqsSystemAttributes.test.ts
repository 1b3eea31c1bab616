import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newQueue, startEmulators, type Emulators } from '../helpers/esm.ts';

// The system attributes SQS returns and fauxqs alone would not: the local SQS keeps them.
let emu: Emulators;
beforeAll(async () => {
  emu = await startEmulators();
});
afterAll(() => emu.stop());

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const traced = { AWSTraceHeader: { DataType: 'String', StringValue: TRACE } };

async function receive(url: string, names: string[]) {
  const out = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageSystemAttributeNames: names as never }));
  return out.Messages ?? [];
}

describe('local SQS system attributes', () => {
  it('returns the AWSTraceHeader a message was sent with, when asked for it', async () => {
    // Prepare
    const queue = await newQueue(emu, { VisibilityTimeout: '0' });
    await emu.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'one', MessageSystemAttributes: traced }));
    await emu.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [
          { Id: 'traced', MessageBody: 'two', MessageSystemAttributes: traced },
          { Id: 'plain', MessageBody: 'three' },
        ],
      }),
    );

    // Act
    const all = await receive(queue.url, ['All']);
    const other = await receive(queue.url, ['SentTimestamp']);

    // Assess
    expect(Object.fromEntries(all.map((m) => [m.Body, m.Attributes?.AWSTraceHeader]))).toEqual({ one: TRACE, two: TRACE, three: undefined });
    expect(other.every((m) => m.Attributes?.AWSTraceHeader === undefined)).toBe(true);
  });

  it('marks a message its RedrivePolicy moved with DeadLetterQueueSourceArn', async () => {
    // Prepare: one receive allowed; the second moves the message to the DLQ.
    const dlq = await newQueue(emu);
    const queue = await newQueue(emu, { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }) });
    await emu.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'poison' }));
    const [first] = await receive(queue.url, []);
    await emu.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queue.url, ReceiptHandle: first!.ReceiptHandle, VisibilityTimeout: 0 }));

    // Act
    expect(await receive(queue.url, ['All'])).toEqual([]);
    const [dead] = await receive(dlq.url, ['All']);

    // Assess
    expect(dead?.Body).toBe('poison');
    expect(dead?.Attributes?.DeadLetterQueueSourceArn).toBe(queue.arn);
    expect(first?.Attributes?.DeadLetterQueueSourceArn).toBeUndefined();
  });
});
