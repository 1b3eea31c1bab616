import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { LambdaInvoker } from './invoker.ts';

export interface SqsMappingSettings {
  batchSize: number;
  batchWindowSeconds: number;
}

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  settings: SqsMappingSettings;
  invoke: LambdaInvoker<SQSEvent, SQSBatchResponse | void>;
}

export interface SqsProgress {
  received: number;
  deleted: number;
  failed: number;
  invocations: number;
}

/**
 * Emulates a Lambda event source mapping on an SQS queue: gathers up to BatchSize messages within
 * the batching window, invokes, deletes what succeeded. Failed messages are simply not deleted:
 * they come back after the visibility timeout, and the queue's own RedrivePolicy moves them to the
 * dead-letter queue after maxReceiveCount, as in AWS.
 */
export class SqsEventSource {
  readonly progress: SqsProgress = { received: 0, deleted: 0, failed: 0, invocations: 0 };
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: SqsEventSourceOptions) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const batch = await this.gather();
      if (batch.length === 0) continue;
      this.progress.received += batch.length;
      this.progress.invocations++;
      const failed = await this.invoke(batch);
      this.progress.failed += failed.size;
      const done = batch.filter((m) => !failed.has(m.MessageId ?? ''));
      for (let i = 0; i < done.length; i += 10) {
        const group = done.slice(i, i + 10);
        await this.o.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.o.queueUrl,
            Entries: group.map((m, j) => ({ Id: `d${j}`, ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
      this.progress.deleted += done.length;
    }
  }

  private async gather(): Promise<Message[]> {
    const batch: Message[] = [];
    const until = Date.now() + this.o.settings.batchWindowSeconds * 1000;
    do {
      const out = await this.o.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.o.queueUrl,
          MaxNumberOfMessages: Math.min(10, this.o.settings.batchSize - batch.length),
          WaitTimeSeconds: this.stopping ? 0 : 1,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      batch.push(...(out.Messages ?? []));
      if (!out.Messages?.length && batch.length === 0) return batch;
    } while (batch.length < this.o.settings.batchSize && Date.now() < until && !this.stopping);
    return batch;
  }

  /** Returns the ids to keep (failed). A thrown error or a malformed response fails the whole batch. */
  private async invoke(batch: Message[]): Promise<Set<string>> {
    const all = new Set(batch.map((m) => m.MessageId ?? ''));
    let response: SQSBatchResponse | void;
    try {
      response = await this.o.invoke({ Records: batch.map((m) => this.record(m)) });
    } catch {
      return all;
    }
    const ids = (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
    if (ids.some((id) => !id || !all.has(id))) return all;
    return new Set(ids);
  }

  private record(m: Message): SQSRecord {
    const a = m.Attributes ?? {};
    return {
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
        SentTimestamp: a.SentTimestamp ?? String(Date.now()),
        SenderId: a.SenderId ?? 'local',
        ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: this.o.queueArn,
      awsRegion: this.o.region,
    };
  }
}
