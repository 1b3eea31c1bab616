import { SendMessageBatchCommand, type SendMessageBatchCommandInput, type SQSClient } from '@aws-sdk/client-sqs';
import { chunk } from './chunks.ts';
import { DEFAULT_BACKOFF, pause, type BackoffOptions } from './retry.ts';

export interface OutgoingMessage {
  /** Unique within one call; reported back for the entries that finally failed. */
  id: string;
  /** JSON text (see sqsSafeJson). */
  body: string;
}

export class QueuePublishError extends Error {
  override readonly name = 'QueuePublishError';
  constructor(
    readonly queueUrl: string,
    readonly failedIds: string[],
    readonly lastError: string,
  ) {
    super(`${failedIds.length} message(s) not accepted by ${queueUrl}: ${lastError}`);
  }
}

/**
 * SQS refuses message bodies with characters outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
 * #x10000-#x10FFFF. Every body tapline sends is JSON.stringify output, where control characters and
 * lone surrogates are already escaped; U+FFFE and U+FFFF are not, and are written here as the JSON
 * escapes that parse back to the same string.
 */
export const sqsSafeJson = (json: string): string => json.replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);

/** A send that was made ready (serialized, signed) and then told not to go: nothing left the function. */
export class SendCancelled extends Error {
  override readonly name = 'SendCancelled';
}

/**
 * Whether each prepared request may go, by its command input: settles to true (send) or false
 * (cancel). Read by the client's last middleware before the HTTP handler (installSendGate).
 */
const gates = new WeakMap<SendMessageBatchCommandInput, Promise<boolean>>();
const gated = new WeakSet<SQSClient>();
/** A gate that rejects cancels too: a retry must never send what its gate did not allow. */
const mayGo = (gate: Promise<boolean>): Promise<boolean> =>
  gate.then(
    (go) => go,
    () => false,
  );

/**
 * Lets sendMessages hold a request after the SDK has serialized and signed it (a third of the
 * SDK's work for a SendMessageBatch), so that work happens while the caller still waits for
 * something else: ingest's COMMIT. Installed once, when the client is made: with cacheMiddleware
 * a client resolves its handler chain on its first send and keeps it. A client without it still
 * sends correctly, only later: sendMessages then awaits the gate before the send.
 */
export function installSendGate(client: SQSClient): SQSClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      const gate = gates.get(args.input as SendMessageBatchCommandInput);
      if (gate && !(await mayGo(gate))) throw new SendCancelled('cancelled before sending');
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'taplineSendGate' },
  );
  gated.add(client);
  return client;
}

/** Entries per SQS batch call (SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch). */
export const SQS_BATCH = 10;
/** SendMessageBatch also caps the whole request's payload; stay under the classic 256 KiB. */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * SendMessageBatch in groups of at most 10 messages and 256 KiB, resending only the entries SQS did not accept (and whole
 * requests that failed) with jittered backoff inside the caller's time budget (backoff.remainingMs).
 * Throws QueuePublishError naming what never got in, so the caller fails the work instead of
 * acknowledging it. With a `gate`, nothing is sent before it settles: true sends, false (or a
 * rejection) throws SendCancelled with nothing sent.
 */
export async function sendMessages(
  client: SQSClient,
  queueUrl: string,
  messages: readonly OutgoingMessage[],
  backoff: BackoffOptions = DEFAULT_BACKOFF,
  gate?: Promise<boolean>,
): Promise<void> {
  if (gate && !gated.has(client) && !(await mayGo(gate))) throw new SendCancelled('cancelled before sending');
  const groups = chunk(messages, { maxItems: SQS_BATCH, maxBytes: MAX_BATCH_BYTES, bytes: (m) => Buffer.byteLength(m.body) });
  const failures = await Promise.all(groups.map((g) => sendGroup(client, queueUrl, g, backoff, gated.has(client) ? gate : undefined)));
  const failed = failures.flatMap((f) => f.ids);
  if (failed.length > 0) {
    throw new QueuePublishError(queueUrl, failed, failures.find((f) => f.ids.length > 0)?.lastError ?? 'unknown');
  }
}

/** `gate`: the first request waits for it after it is signed (installSendGate); a cancel ends the group unsent. */
async function sendGroup(client: SQSClient, queueUrl: string, group: OutgoingMessage[], backoff: BackoffOptions, gate?: Promise<boolean>) {
  // SQS batch entry ids must be short alphanumerics; map them to positions and back.
  let pending = group;
  let lastError = '';
  for (let attempt = 0; attempt < backoff.maxAttempts && pending.length > 0; attempt++) {
    if (attempt > 0 && !(await pause(attempt, backoff))) break;
    try {
      const input: SendMessageBatchCommandInput = { QueueUrl: queueUrl, Entries: pending.map((m, i) => ({ Id: `m${i}`, MessageBody: sqsSafeJson(m.body) })) };
      if (attempt === 0 && gate) gates.set(input, gate);
      const out = await client.send(new SendMessageBatchCommand(input));
      const failedPositions = new Set((out.Failed ?? []).map((f) => Number(f.Id?.slice(1))));
      lastError = out.Failed?.[0] ? `${out.Failed[0].Code ?? ''} ${out.Failed[0].Message ?? ''}`.trim() : lastError;
      pending = pending.filter((_, i) => failedPositions.has(i));
    } catch (e) {
      if (e instanceof SendCancelled) throw e;
      lastError = (e as Error).message;
    }
  }
  return { ids: pending.map((m) => m.id), lastError };
}
