import type { DerivedEvent } from '../events.ts';
import type { SqlSession } from './session.ts';
import { chunkRows, jsonLiteral } from './sqlText.ts';

/** How long a claimed outbox row stays invisible to other invocations before it may be re-claimed. */
const CLAIM_SECONDS = 30;
const CLAIM_LIMIT = 1_000;

const ADD_HEAD = `INSERT INTO event_outbox (event_id, body)
  SELECT e->>'id', e FROM json_array_elements(`;
const ADD_TAIL = `::json) AS e ON CONFLICT (event_id) DO NOTHING`;

/** Stores derived events in the same transaction as the rows and state that caused them. */
export async function addToOutbox(tx: SqlSession, events: readonly DerivedEvent[]): Promise<void> {
  for (const chunk of chunkRows(events.map((e) => JSON.stringify(e)), ADD_HEAD.length + ADD_TAIL.length)) {
    await tx.query(ADD_HEAD + jsonLiteral(chunk) + ADD_TAIL);
  }
}

/**
 * Claims pending events (this batch's and any left by a failed publish) with one statement.
 * SKIP LOCKED keeps concurrent invocations from publishing the same rows; if one dies, its claim
 * expires and another publishes them. A duplicate publish is harmless: the writer is idempotent.
 */
export async function claimOutbox(db: SqlSession): Promise<DerivedEvent[]> {
  const { rows } = await db.query<{ body: DerivedEvent }>(
    `UPDATE event_outbox o SET claimed_until = now() + interval '${CLAIM_SECONDS} seconds'
      WHERE o.event_id IN (SELECT event_id FROM event_outbox
                            WHERE claimed_until < now()
                            ORDER BY created_at LIMIT ${CLAIM_LIMIT}
                            FOR UPDATE SKIP LOCKED)
      RETURNING o.body`,
  );
  return rows.map((r) => r.body);
}

export async function removeFromOutbox(db: SqlSession, eventIds: readonly string[]): Promise<void> {
  for (const chunk of chunkRows(eventIds.map((id) => JSON.stringify(id)), 120)) {
    await db.query(`DELETE FROM event_outbox WHERE event_id IN (SELECT json_array_elements_text(${jsonLiteral(chunk)}::json))`);
  }
}

/** Makes claimed rows claimable again at once (their publish failed). */
export async function releaseOutbox(db: SqlSession, eventIds: readonly string[]): Promise<void> {
  for (const chunk of chunkRows(eventIds.map((id) => JSON.stringify(id)), 140)) {
    await db.query(
      `UPDATE event_outbox SET claimed_until = '-infinity' WHERE event_id IN (SELECT json_array_elements_text(${jsonLiteral(chunk)}::json))`,
    );
  }
}
