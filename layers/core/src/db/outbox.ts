import type { DerivedEvent } from '../events.ts';
import type { Rows, SqlSession } from './session.ts';
import { chunkRows, jsonLiteral } from './sqlText.ts';

/** How long a claimed outbox row stays invisible to other invocations before it may be re-claimed. */
const CLAIM_SECONDS = 30;
const CLAIM_LIMIT = 1_000;

const ADD_HEAD = `INSERT INTO event_outbox (event_id, body)
  SELECT e->>'id', e FROM json_array_elements(`;
const ADD_TAIL = `::json) AS e ON CONFLICT (event_id) DO NOTHING`;

/** Stores derived events in the same transaction as the rows and state that caused them. */
export function addToOutboxStatements(events: readonly DerivedEvent[]): string[] {
  return chunkRows(events.map((e) => JSON.stringify(e)), ADD_HEAD.length + ADD_TAIL.length).map((chunk) => ADD_HEAD + jsonLiteral(chunk) + ADD_TAIL);
}

/**
 * Claims pending events (this batch's and any left by a failed publish) with one statement, run as
 * the last statement of the ingest transaction so it costs no round trip of its own. SKIP LOCKED
 * keeps concurrent invocations from publishing the same rows; if one dies, its claim expires and
 * another publishes them. A duplicate publish is harmless: the writer is idempotent.
 */
export const CLAIM_OUTBOX_STATEMENT = `UPDATE event_outbox o SET claimed_until = now() + interval '${CLAIM_SECONDS} seconds'
      WHERE o.event_id IN (SELECT event_id FROM event_outbox
                            WHERE claimed_until < now()
                            ORDER BY created_at LIMIT ${CLAIM_LIMIT}
                            FOR UPDATE SKIP LOCKED)
      RETURNING o.body`;

export const claimedEvents = (rows: Rows): DerivedEvent[] => (rows as Array<{ body: DerivedEvent }>).map((r) => r.body);

const idChunks = (eventIds: readonly string[], templateBytes: number) => chunkRows(eventIds.map((id) => JSON.stringify(id)), templateBytes);

export async function removeFromOutbox(db: SqlSession, eventIds: readonly string[]): Promise<void> {
  await db.batch(
    idChunks(eventIds, 120).map((chunk) => `DELETE FROM event_outbox WHERE event_id IN (SELECT json_array_elements_text(${jsonLiteral(chunk)}::json))`),
  );
}

/** Makes claimed rows claimable again at once (their publish failed). */
export async function releaseOutbox(db: SqlSession, eventIds: readonly string[]): Promise<void> {
  await db.batch(
    idChunks(eventIds, 140).map(
      (chunk) => `UPDATE event_outbox SET claimed_until = '-infinity' WHERE event_id IN (SELECT json_array_elements_text(${jsonLiteral(chunk)}::json))`,
    ),
  );
}
