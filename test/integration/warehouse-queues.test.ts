import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqs, type LocalSqs } from '../../local/services/sqs.ts';
import { freePort } from '../../local/services/ports.ts';
import { probeQueues } from '../../ops/cli/queues.ts';

let sqs: LocalSqs;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startSqs();
  client = new SQSClient({ region: 'us-east-1', endpoint: sqs.endpoint, requestHandler: new NodeHttpHandler(), credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
afterAll(async () => {
  client?.destroy();
  await sqs?.stop();
});

const queue = async (name: string) => (await client.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';

describe('verify: queue depths', () => {
  it('is green with empty dead-letter queues and reports each backlog', async () => {
    // Prepare
    await queue('tapline-qa-events-dlq');
    const events = await queue('tapline-qa-events');
    await client.send(new SendMessageCommand({ QueueUrl: events, MessageBody: '{}' }));
    // Act
    const report = await probeQueues({ endpoint: sqs.endpoint, prefix: 'tapline-qa', region: 'us-east-1' });
    // Assess
    expect('queues' in report && report.queues.map((q) => [q.name, q.deadLetter, q.visible])).toEqual([
      ['tapline-qa-events', false, 1],
      ['tapline-qa-events-dlq', true, 0],
    ]);
    expect(report.checks.every((c) => c.status === 'ok')).toBe(true);
  });

  it('turns red when a dead-letter queue holds a message', async () => {
    const dlq = await queue('tapline-qb-ingest-onfailure');
    await client.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: '{"KinesisBatchInfo":{}}' }));
    const report = await probeQueues({ endpoint: sqs.endpoint, prefix: 'tapline-qb', region: 'us-east-1' });
    expect(report.checks).toEqual([{ name: 'queue tapline-qb-ingest-onfailure', status: 'red', detail: 'dead-letter queue: 1 messages' }]);
  });

  it('skips with a note when the endpoint is gone (the local run has ended) or unknown', async () => {
    const gone = await probeQueues({ endpoint: `http://127.0.0.1:${await freePort()}`, prefix: 'tapline-local', region: 'us-east-1' });
    const unknown = await probeQueues(null);
    expect(gone).toMatchObject({ skipped: expect.stringMatching(/not reachable/) });
    expect(unknown).toMatchObject({ skipped: expect.stringMatching(/no SQS endpoint known/) });
    expect([...gone.checks, ...unknown.checks].every((c) => c.status === 'ok')).toBe(true);
  });
});
