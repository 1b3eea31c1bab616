import type { Rows, SqlSession } from './session.ts';
import { recordset, rowStatements } from './recordset.ts';

/** See migrations/0006_outbox.sql. */
export type OutboxDestination = 'events' | 'ingest-dlq';

export interface OutboxMessage {
  destination: OutboxDestination;
  id: string;
  /** JSON text, sent as the SQS message body. */
  body: string;
}

/** How long a claimed message stays invisible to other senders before it may be claimed again. */
const CLAIM_SECONDS = 30;
const CLAIM_LIMIT = 1_000;
/** Longer than any stage's stream retention: a redelivered record within it is recognised. */
export const OUTBOX_KEEP_DAYS = 8;

// The body is embedded as JSON, not as a JSON string: no second escaping, and `json` (unlike jsonb)
// keeps its text exactly, \u0000 escapes included.
const OUTBOX = recordset({ destination: 'd text', message_id: 'i text', body: 'b json' }, { rawJson: ['body'] });

const add = (literal: string) => `WITH ins AS (
  INSERT INTO outbox (destination, message_id, body)
  SELECT m.destination, m.message_id, m.body::text FROM ${OUTBOX.from(literal)} m
  ON CONFLICT (destination, message_id) DO NOTHING
  RETURNING message_id)
SELECT message_id FROM ins`;

/** Adds messages in the caller's transaction; each statement returns the ids that were not there yet. */
export function addToOutboxStatements(messages: readonly OutboxMessage[]): string[] {
  return rowStatements(
    messages.map((m) => OUTBOX.row({ destination: m.destination, message_id: m.id, body: m.body })),
    add,
  );
}

export const addedIds = (results: readonly Rows[]): Set<string> => new Set(results.flatMap((rows) => (rows as Array<{ message_id: string }>).map((r) => r.message_id)));

/**
 * Claims unsent messages (this batch's and any left by a failed send), oldest first. Run as the
 * last statement of the ingest transaction it costs no round trip of its own. SKIP LOCKED keeps
 * concurrent senders apart; a duplicate send is harmless (the writer is idempotent by event id, and
 * a dead-letter entry names its stream record).
 */
export const CLAIM_OUTBOX_STATEMENT = `UPDATE outbox o SET claimed_until = now() + interval '${CLAIM_SECONDS} seconds'
      WHERE (o.destination, o.message_id) IN (
        SELECT destination, message_id FROM outbox
        WHERE sent_at IS NULL AND claimed_until < now()
        ORDER BY created_at LIMIT ${CLAIM_LIMIT}
        FOR UPDATE SKIP LOCKED)
      RETURNING o.destination, o.message_id, o.body`;

export const claimedMessages = (rows: Rows): OutboxMessage[] =>
  (rows as Array<{ destination: OutboxDestination; message_id: string; body: string }>).map((r) => ({
    destination: r.destination,
    id: r.message_id,
    body: r.body,
  }));

/** Unsent messages and the age of the oldest, for the OutboxPending / OutboxOldestAgeSeconds metrics. */
export const OUTBOX_STATUS_STATEMENT = `SELECT count(*)::int AS pending,
       coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_s
  FROM outbox WHERE sent_at IS NULL`;

export interface OutboxStatus {
  pending: number;
  oldestAgeSeconds: number;
}

export const outboxStatus = (rows: Rows): OutboxStatus => {
  const r = rows[0] as { pending?: number; oldest_s?: number } | undefined;
  return { pending: r?.pending ?? 0, oldestAgeSeconds: r?.oldest_s ?? 0 };
};

const byKeys = (messages: readonly OutboxMessage[], head: string) =>
  rowStatements(
    messages.map((m) => OUTBOX.row({ destination: m.destination, message_id: m.id })),
    (literal) => `${head} WHERE (destination, message_id) IN (SELECT m.destination, m.message_id FROM ${OUTBOX.from(literal)} m)`,
  );

export async function markSent(db: SqlSession, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length > 0) await db.batch(byKeys(messages, 'UPDATE outbox SET sent_at = now()'));
}

/** Makes claimed messages claimable again at once (their send failed). */
export async function releaseClaims(db: SqlSession, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length > 0) await db.batch(byKeys(messages, `UPDATE outbox SET claimed_until = '-infinity'`));
}

export const PRUNE_OUTBOX_STATEMENT = `WITH gone AS (
  DELETE FROM outbox WHERE sent_at < now() - interval '${OUTBOX_KEEP_DAYS} days' RETURNING 1)
SELECT count(*)::int AS n FROM gone`;
