import { compareSequence } from '../merge.ts';
import type { SqlSession } from './session.ts';
import { jsonLiteral } from './sqlText.ts';

/** Where a stream position is committed: one shard and one partition key (Lambda's ordering unit). */
export interface StreamPosition {
  shardId: string;
  partitionKey: string;
  sequenceNumber: string;
}

const keyOf = (p: { shardId: string; partitionKey: string }) => `${p.shardId}\u0000${p.partitionKey}`;

/**
 * Loads the committed sequence per (shard, partition key) for this batch's keys and locks those
 * rows until commit, so two invocations racing on the same window (a retry overlapping a slow
 * attempt) serialize instead of both writing.
 */
export async function loadCheckpoints(tx: SqlSession, positions: readonly StreamPosition[]): Promise<Map<string, string>> {
  const keys = [...new Map(positions.map((p) => [keyOf(p), { k: p.shardId, p: p.partitionKey }])).values()];
  if (keys.length === 0) return new Map();
  const { rows } = await tx.query<{ shard_id: string; partition_key: string; sequence: string }>(
    `SELECT c.shard_id, c.partition_key, c.sequence::text AS sequence
       FROM ingest_checkpoint c
       JOIN json_to_recordset(${jsonLiteral(keys.map((k) => JSON.stringify(k)))}::json) AS q(k text, p text)
         ON c.shard_id = q.k AND c.partition_key = q.p
     ORDER BY c.shard_id, c.partition_key
     FOR UPDATE OF c`,
  );
  return new Map(rows.map((r) => [keyOf({ shardId: r.shard_id, partitionKey: r.partition_key }), r.sequence]));
}

export function isAlreadyCommitted(p: StreamPosition, committed: ReadonlyMap<string, string>): boolean {
  const seq = committed.get(keyOf(p));
  return seq !== undefined && compareSequence(p.sequenceNumber, seq) <= 0;
}

/** Advances each key to the highest sequence of the batch (never backwards). */
export async function advanceCheckpoints(tx: SqlSession, positions: readonly StreamPosition[]): Promise<void> {
  const highest = new Map<string, StreamPosition>();
  for (const p of positions) {
    const seen = highest.get(keyOf(p));
    if (!seen || compareSequence(p.sequenceNumber, seen.sequenceNumber) > 0) highest.set(keyOf(p), p);
  }
  if (highest.size === 0) return;
  const rows = [...highest.values()].map((p) => JSON.stringify({ k: p.shardId, p: p.partitionKey, s: p.sequenceNumber }));
  await tx.query(
    `INSERT INTO ingest_checkpoint (shard_id, partition_key, sequence)
     SELECT q.k, q.p, q.s::numeric FROM json_to_recordset(${jsonLiteral(rows)}::json) AS q(k text, p text, s text)
     ON CONFLICT (shard_id, partition_key)
     DO UPDATE SET sequence = GREATEST(ingest_checkpoint.sequence, EXCLUDED.sequence), updated_at = now()`,
  );
}
