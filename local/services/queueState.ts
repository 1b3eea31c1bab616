import { readFile, rename, writeFile } from 'node:fs/promises';
import type { SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { sendMessages } from '#core/queue';

/**
 * The local queues' messages, kept in a file of the data dir between runs: SQS keeps a queue's
 * messages (14 days for the DLQs) whatever the functions do, and fauxqs keeps them only in memory.
 * Saved when the environment stops, from fauxqs's own non-destructive inspection endpoint (visible,
 * delayed and in-flight messages alike; nothing is received, so nothing changes), and sent again
 * when the next one starts. So what `npm run invoke` or `npm run local` dead-lettered is still there
 * for `npm run redrive` after they ended. A message comes back with its body (tapline's messages
 * carry no attributes); SQS's own bookkeeping (message id, receive count, sent time) starts again,
 * as after a redrive.
 */
const QueueStateSchema = z.object({ v: z.literal(1), savedAt: z.string(), queues: z.record(z.string(), z.array(z.object({ body: z.string() }))) });
export type QueueState = z.infer<typeof QueueStateSchema>;

interface InspectedMessage {
  messageId: string;
  body: string;
}
interface Inspection {
  messages: { ready: InspectedMessage[]; delayed: InspectedMessage[]; inflight: Array<{ message: InspectedMessage }> };
}

export class QueueStateError extends Error {
  override readonly name = 'QueueStateError';
}

/** The kept state, or undefined when none was kept yet. */
export async function readQueueState(file: string): Promise<QueueState | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new QueueStateError(`${file} is not JSON (${(e as Error).message}): move it away to start with empty queues`);
  }
  const parsed = QueueStateSchema.safeParse(json);
  if (!parsed.success) throw new QueueStateError(`${file} is not a kept queue state: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

/** Puts every kept message back into its queue (by queue name). */
export async function restoreQueues(file: string, sqs: SQSClient, queueUrls: Record<string, string>): Promise<number> {
  const state = await readQueueState(file);
  let restored = 0;
  for (const [name, messages] of Object.entries(state?.queues ?? {})) {
    const url = queueUrls[name];
    if (!url || messages.length === 0) continue;
    await sendMessages(
      sqs,
      url,
      messages.map((m, i) => ({ id: `k${i}`, body: m.body })),
    );
    restored += messages.length;
  }
  return restored;
}

/**
 * Every message fauxqs at `endpoint` holds in the queue now (visible, delayed and in flight), read
 * without receiving it: its receive count and visibility stay as they are.
 */
export async function inspectQueue(endpoint: string, name: string): Promise<InspectedMessage[]> {
  const response = await fetch(`${endpoint}/_fauxqs/queues/${encodeURIComponent(name)}`);
  if (!response.ok) throw new QueueStateError(`fauxqs did not list queue ${name}: HTTP ${response.status}`);
  const { messages } = (await response.json()) as Inspection;
  return [...messages.ready, ...messages.delayed, ...messages.inflight.map((i) => i.message)];
}

/** Writes every message of the named queues, as fauxqs at `endpoint` holds them now, to `file` (atomically). */
export async function saveQueues(file: string, endpoint: string, queueNames: readonly string[]): Promise<void> {
  const queues: QueueState['queues'] = {};
  for (const name of queueNames) queues[name] = (await inspectQueue(endpoint, name)).map((m) => ({ body: m.body }));
  const state: QueueState = { v: 1, savedAt: new Date().toISOString(), queues };
  // The payloads of dead-lettered records: readable by their owner only, like the database files.
  await writeFile(`${file}.partial`, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  await rename(`${file}.partial`, file);
}
