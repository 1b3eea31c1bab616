import type { SQSClient } from '@aws-sdk/client-sqs';
import { CLAIM_OUTBOX_STATEMENT, claimedMessages, markSent, releaseClaims, type OutboxDestination, type OutboxMessage } from './db/outbox.ts';
import type { SqlSession } from './db/session.ts';
import { envelopes } from './eventsMessage.ts';
import { QueuePublishError, SendCancelled, sendMessages } from './queue.ts';
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
 * A transaction's own messages, sent the moment it commits: their requests are made and signed
 * while COMMIT travels (queue.ts, installSendGate), and go once `claimed` (what the commit claimed)
 * holds all of them, as it does unless older messages filled the claim or they were there before
 * (a redelivered batch). Otherwise they are not sent, and what was claimed goes as publishClaimed
 * sends it; claimed messages that are not the transaction's (left by a failed send) go beside
 * them. Rejects with the commit's error if it fails: nothing was sent.
 */
export async function publishOnCommit(
  acks: OutboxAcks,
  sqs: SQSClient,
  queues: OutboxQueues,
  own: readonly OutboxMessage[],
  claimed: Promise<readonly OutboxMessage[]>,
  backoff: BackoffOptions,
): Promise<PublishOutcome> {
  const isOwn = new Set(own.map(keyOf));
  const allOwnClaimed = claimed.then(
    (c) => c.filter((m) => isOwn.has(keyOf(m))).length === isOwn.size,
    () => false,
  );
  const early = publishClaimed(acks, sqs, queues, own, backoff, allOwnClaimed);
  early.catch(() => undefined);
  const all = await claimed;
  if (!(await allOwnClaimed)) {
    await early.catch((e: unknown) => {
      if (!(e instanceof SendCancelled)) throw e;
    });
    return publishClaimed(acks, sqs, queues, all, backoff);
  }
  const others = await publishClaimed(
    acks,
    sqs,
    queues,
    all.filter((m) => !isOwn.has(keyOf(m))),
    backoff,
  );
  const mine = await early;
  const lastError = mine.lastError ?? others.lastError;
  return { sent: mine.sent + others.sent, failed: mine.failed + others.failed, ...(lastError === undefined ? {} : { lastError }) };
}

const NOTHING_SENT: PublishOutcome = { sent: 0, failed: 0 };
const keyOf = (m: OutboxMessage) => `${m.destination}\u0000${m.id}`;

/**
 * Sends claimed outbox messages to their queues and records the outcome. A queue that refuses
 * does not fail the caller: the messages are durable in the outbox (committed with their batch)
 * and are offered again at once; the OutboxOldestAgeSeconds alarm tells when that keeps failing.
 * `gate` (publishOnCommit's): when it says no, rejects with SendCancelled and records nothing.
 */
export async function publishClaimed(
  acks: OutboxAcks,
  sqs: SQSClient,
  queues: OutboxQueues,
  messages: readonly OutboxMessage[],
  backoff: BackoffOptions,
  gate?: Promise<boolean>,
): Promise<PublishOutcome> {
  if (messages.length === 0) return NOTHING_SENT;
  const byDestination = new Map<OutboxDestination, OutboxMessage[]>();
  for (const m of messages) byDestination.set(m.destination, [...(byDestination.get(m.destination) ?? []), m]);
  const sent: OutboxMessage[] = [];
  const failed: OutboxMessage[] = [];
  let lastError: string | undefined;
  await Promise.all(
    [...byDestination].map(async ([destination, batch]) => {
      // Derived events travel in envelopes (ADR 0014); a dead-letter entry is a message of its own, to be read and replayed alone.
      const parcels = destination === 'events' ? envelopes(batch) : batch.map((m) => ({ id: m.id, body: m.body, members: [m] }));
      try {
        await sendMessages(sqs, queues[destination], parcels, backoff, gate);
        sent.push(...batch);
      } catch (e) {
        if (e instanceof SendCancelled) throw e;
        const refused = e instanceof QueuePublishError ? new Set(e.failedIds) : undefined;
        lastError = e instanceof QueuePublishError ? e.lastError : (e as Error).message;
        for (const p of parcels) (refused === undefined || refused.has(p.id) ? failed : sent).push(...p.members);
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
