import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { chunk } from '../chunks.ts';
import { SQS_BATCH } from '../queue.ts';

export class QueueOperationError extends Error {
  override readonly name = 'QueueOperationError';
}

export interface ReceiveAllOptions {
  /** Long enough to list the whole queue: a received message stays hidden from other readers meanwhile. */
  visibilitySeconds?: number;
  /** Long polling asks every SQS server, so an empty answer means an empty queue. */
  waitSeconds?: number;
}

/** Up to 10 messages, in flight (hidden) until released, deleted, or their visibility timeout ends. */
export async function receivePage(sqs: SQSClient, queueUrl: string, o: ReceiveAllOptions = {}): Promise<Message[]> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: SQS_BATCH,
      WaitTimeSeconds: o.waitSeconds ?? 1,
      VisibilityTimeout: o.visibilitySeconds ?? 120,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}

/** Receives every visible message of a queue (each once), leaving them in flight until released or deleted. */
export async function receiveAll(sqs: SQSClient, queueUrl: string, o: ReceiveAllOptions = {}): Promise<Message[]> {
  const messages: Message[] = [];
  const seen = new Set<string>();
  for (;;) {
    const fresh = (await receivePage(sqs, queueUrl, o)).filter((m) => m.MessageId && !seen.has(m.MessageId));
    if (fresh.length === 0) return messages;
    for (const m of fresh) seen.add(m.MessageId ?? '');
    messages.push(...fresh);
  }
}

/** Makes messages visible again at once: they stay in the queue. */
export async function releaseMessages(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (const group of chunk(messages, { maxItems: SQS_BATCH })) {
    const out = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((m, j) => ({ Id: `r${j}`, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
    // A message that is not released simply reappears after its visibility timeout: nothing is lost.
    if (out.Failed?.length) throw new QueueOperationError(`${out.Failed.length} message(s) of ${queueUrl} not released: ${out.Failed[0]?.Message ?? ''}`);
  }
}

export async function deleteMessages(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (const group of chunk(messages, { maxItems: SQS_BATCH })) {
    const out = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: group.map((m, j) => ({ Id: `d${j}`, ReceiptHandle: m.ReceiptHandle })) }));
    if (out.Failed?.length) throw new QueueOperationError(`${out.Failed.length} message(s) of ${queueUrl} not deleted: ${out.Failed[0]?.Message ?? ''}`);
  }
}
