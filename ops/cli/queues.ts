import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { check, type Check } from '#core/warehouse/health';
import { readQueueState } from '../../local/services/queueState.ts';

/**
 * Queue depths for `npm run verify`: dead-letter queues must be empty (a message there is a record
 * or derived event that needs an operator), and a work queue's backlog is the writer's lag.
 * Probed where an SQS endpoint is known, read from a local run's kept messages after it ended,
 * otherwise skipped with the reason.
 */
export interface QueueStatus {
  name: string;
  url: string;
  deadLetter: boolean;
  visible: number;
  inFlight: number;
  delayed: number;
}

export type QueueReport = { queues: QueueStatus[]; checks: Check[] } | { skipped: string; checks: Check[] };

export interface QueueTarget {
  /** An SQS endpoint (emulator, LocalStack); omitted: the SDK's usual AWS configuration. */
  endpoint?: string;
  /** Queues whose name starts with this, e.g. tapline-local or tapline-prod. */
  prefix: string;
  region: string;
  /** For an emulator endpoint; omitted: the SDK's usual credential chain (real AWS). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

// Name suffixes the stacks and the local runner give their dead-letter queues.
const DEAD_LETTER = /-(dlq|onfailure)$/i;

export async function probeQueues(target: QueueTarget | null): Promise<QueueReport> {
  if (!target) {
    const note = 'no SQS endpoint known (no sqsEndpoint in connection.json, AWS_ENDPOINT_URL_SQS unset, no --queue-prefix): DLQ depths not checked';
    return { skipped: note, checks: [check('queues', 'ok', `skipped: ${note}`)] };
  }
  const sqs = new SQSClient({
    region: target.region,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1_500, requestTimeout: 5_000 }),
    // An emulator accepts any credentials; the operator's shell has none for it.
    ...(target.endpoint ? { endpoint: target.endpoint, credentials: target.credentials ?? { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  try {
    const listed = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: target.prefix })).catch((e: unknown) => e as Error);
    if (listed instanceof Error) {
      const note = `SQS at ${target.endpoint ?? 'AWS'} not reachable (${listed.message}); the local emulator stops with its run`;
      return { skipped: note, checks: [check('queues', 'ok', `skipped: ${note}`)] };
    }
    const queues: QueueStatus[] = [];
    for (const url of listed.QueueUrls ?? []) {
      const { Attributes: a } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      const name = url.split('/').pop() ?? url;
      queues.push({
        name,
        url,
        deadLetter: DEAD_LETTER.test(name),
        visible: Number(a?.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(a?.ApproximateNumberOfMessagesNotVisible ?? 0),
        delayed: Number(a?.ApproximateNumberOfMessagesDelayed ?? 0),
      });
    }
    queues.sort((a, b) => a.name.localeCompare(b.name));
    const checks = queues.map((q) =>
      q.deadLetter
        ? check(`queue ${q.name}`, q.visible + q.inFlight > 0 ? 'red' : 'ok', `dead-letter queue: ${q.visible + q.inFlight} messages`)
        : check(`queue ${q.name}`, 'ok', `backlog ${q.visible} waiting, ${q.inFlight} in flight`),
    );
    if (queues.length === 0) checks.push(check('queues', 'warn', `no queue named ${target.prefix}* at ${target.endpoint ?? 'AWS'}`));
    return { queues, checks };
  } finally {
    sqs.destroy();
  }
}

/**
 * The messages a local run kept in its data dir (local/services/queueState.ts), as depths: what a
 * probe of its queues would have shown when it ended; undefined when nothing was kept.
 */
export async function keptQueues(file: string): Promise<QueueReport | undefined> {
  const kept = await readQueueState(file);
  if (!kept) return undefined;
  const checks: Check[] = [];
  const queues = Object.entries(kept.queues).map(([name, messages]): QueueStatus => {
    const deadLetter = DEAD_LETTER.test(name);
    if (deadLetter && messages.length > 0) checks.push(check(`queue ${name}`, 'red', `${messages.length} message(s) kept: npm run redrive`));
    return { name, url: '', deadLetter, visible: messages.length, inFlight: 0, delayed: 0 };
  });
  return { queues, checks };
}
