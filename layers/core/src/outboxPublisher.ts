import type { SQSClient } from '@aws-sdk/client-sqs';
import { CLAIM_OUTBOX_STATEMENT, claimedMessages, markSent, releaseClaims, type OutboxDestination, type OutboxMessage } from './db/outbox.ts';
import type { SqlSession } from './db/session.ts';
import { QueuePublishError, sendMessages } from './queue.ts';
import type { BackoffOptions } from './retry.ts';

/** The queue URL of each outbox destination. */
export type OutboxQueues = Record<OutboxDestination, string>;

export interface OutboxAcks {
  markSent(messages: readonly OutboxMessage[]): Promise<void>;
  releaseClaims(messages: readonly OutboxMessage[]): Promise<void>;
}

export interface PublishOutcome {
  sent: number;
  /** Left in the outbox, claim released: the next ingest batch or maintenance sends them. */
  failed: number;
  lastError?: string;
}

/**
 * Sends claimed outbox messages to their queues and records the outcome. A queue that refuses
 * does not fail the caller: the messages are durable in the outbox (committed with their batch)
 * and are offered again at once; the OutboxOldestAgeSeconds alarm tells when that keeps failing.
 */
export async function publishClaimed(acks: OutboxAcks, sqs: SQSClient, queues: OutboxQueues, claimed: readonly OutboxMessage[], backoff: BackoffOptions): Promise<PublishOutcome> {
  if (claimed.length === 0) return { sent: 0, failed: 0 };
  const byDestination = new Map<OutboxDestination, OutboxMessage[]>();
  for (const m of claimed) byDestination.set(m.destination, [...(byDestination.get(m.destination) ?? []), m]);
  const sent: OutboxMessage[] = [];
  const failed: OutboxMessage[] = [];
  let lastError: string | undefined;
  await Promise.all(
    [...byDestination].map(async ([destination, messages]) => {
      try {
        await sendMessages(sqs, queues[destination], messages, backoff);
        sent.push(...messages);
      } catch (e) {
        const refused = e instanceof QueuePublishError ? new Set(e.failedIds) : undefined;
        lastError = e instanceof QueuePublishError ? e.lastError : (e as Error).message;
        for (const m of messages) (refused === undefined || refused.has(m.id) ? failed : sent).push(m);
      }
    }),
  );
  await acks.markSent(sent);
  await acks.releaseClaims(failed);
  return { sent: sent.length, failed: failed.length, ...(lastError === undefined ? {} : { lastError }) };
}

/** Sends what is left in the outbox (maintenance's duty: a crash between commit and send, or a queue outage). */
export async function drainOutbox(db: SqlSession, sqs: SQSClient, queues: OutboxQueues, backoff: BackoffOptions): Promise<PublishOutcome> {
  const total: PublishOutcome = { sent: 0, failed: 0 };
  const acks: OutboxAcks = { markSent: (m) => markSent(db, m), releaseClaims: (m) => releaseClaims(db, m) };
  for (;;) {
    const { rows } = await db.query(CLAIM_OUTBOX_STATEMENT);
    const claimed = claimedMessages(rows);
    if (claimed.length === 0) return total;
    const outcome = await publishClaimed(acks, sqs, queues, claimed, backoff);
    total.sent += outcome.sent;
    total.failed += outcome.failed;
    if (outcome.lastError !== undefined) total.lastError = outcome.lastError;
    // A queue still refusing: stop here, the messages stay for the next run.
    if (outcome.failed > 0) return total;
  }
}
