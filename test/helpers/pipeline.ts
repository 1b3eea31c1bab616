import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { loadStageConfig, type StageConfig } from '#config/stages';
import { lambdaContext as localContext } from '../../local/esm/lambdaContext.ts';
import { startLocalEnvironment, type LocalEnvironment, type Queue } from '../../local/environment.ts';

/** The local stage's environment, with the handlers' variables exported as Lambda would set them. */
export async function startEnvironment(tweak: (c: StageConfig) => StageConfig = (c) => c): Promise<LocalEnvironment> {
  const env = await startLocalEnvironment({ config: tweak(loadStageConfig('local')) });
  Object.assign(process.env, env.functionEnv, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR' });
  return env;
}

/** A Lambda Context for calling a handler directly, `remainingMs` before its timeout. */
export const lambdaContext = (remainingMs = 60_000, functionName = 'test', memoryMb = 1024): Context =>
  localContext({ functionName, memoryMb, region: 'us-east-1', requestId: randomUUID(), deadline: Date.now() + remainingMs });

/** Reads every message currently in a queue (and leaves them invisible for a while). */
export async function drainQueue(sqs: SQSClient, queue: Queue): Promise<unknown[]> {
  const bodies: unknown[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }));
    if (!out.Messages?.length) return bodies;
    bodies.push(...out.Messages.map((m) => JSON.parse(m.Body ?? 'null') as unknown));
  }
}

/** The parts of an events queue message as JSON: an envelope's events (ADR 0014), or the message itself. Read without the schema, so a poison event is a part too. */
export const partsOf = (message: unknown): unknown[] => {
  const events = (message as { events?: unknown } | null)?.events;
  return Array.isArray(events) ? events : [message];
};

/** Reads every derived event currently in the events queue, out of their envelopes. */
export async function drainEvents(sqs: SQSClient, queue: Queue): Promise<unknown[]> {
  return (await drainQueue(sqs, queue)).flatMap(partsOf);
}
