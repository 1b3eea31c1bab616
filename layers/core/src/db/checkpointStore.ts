import { compareSequence } from '../merge.ts';
import type { Rows } from './session.ts';
import { jsonLiteral } from './sqlText.ts';

/** Where a stream position is committed: one shard and one partition key (Lambda's ordering unit). */
export interface StreamPosition {
  shardId: string;
  partitionKey: string;
  sequenceNumber: string;
}

const keyOf = (p: { shardId: string; partitionKey: string }) => `${p.shardId}\u0000${p.partitionKey}`;

/** The highest position per (shard, partition key) of a batch, found in one pass. */
export function highestPositions(positions: readonly StreamPosition[]): StreamPosition[] {
  const highest = new Map<string, StreamPosition>();
  for (const p of positions) {
    const key = keyOf(p);
    const seen = highest.get(key);
    if (!seen || compareSequence(p.sequenceNumber, seen.sequenceNumber) > 0) highest.set(key, p);
  }
  return [...highest.values()];
}

const keysLiteral = (positions: readonly StreamPosition[]) =>
  jsonLiteral(positions.map((p) => JSON.stringify({ k: p.shardId, p: p.partitionKey, s: p.sequenceNumber })));

/**
 * Reads the committed sequence per (shard, partition key) of the batch and locks those rows until
 * commit, so two invocations racing on the same window (a retry overlapping a slow attempt)
 * serialize instead of both writing. Give it the batch's `highestPositions`.
 */
export function loadCheckpointsStatement(keys: readonly StreamPosition[]): string {
  return `SELECT c.shard_id, c.partition_key, c.sequence::text AS sequence
       FROM ingest_checkpoint c
       JOIN json_to_recordset(${keysLiteral(keys)}::json) AS q(k text, p text)
         ON c.shard_id = q.k AND c.partition_key = q.p
     ORDER BY c.shard_id, c.partition_key
     FOR UPDATE OF c`;
}

export function parseCheckpoints(rows: Rows): Map<string, string> {
  return new Map(
    (rows as Array<{ shard_id: string; partition_key: string; sequence: string }>).map((r) => [
      keyOf({ shardId: r.shard_id, partitionKey: r.partition_key }),
      r.sequence,
    ]),
  );
}

export function isAlreadyCommitted(p: StreamPosition, committed: ReadonlyMap<string, string>): boolean {
  const seq = committed.get(keyOf(p));
  return seq !== undefined && compareSequence(p.sequenceNumber, seq) <= 0;
}

/** Advances each key to its highest sequence in the batch (never backwards). */
export function advanceCheckpointsStatement(highest: readonly StreamPosition[]): string | undefined {
  if (highest.length === 0) return undefined;
  return `INSERT INTO ingest_checkpoint (shard_id, partition_key, sequence)
     SELECT q.k, q.p, q.s::numeric FROM json_to_recordset(${keysLiteral(highest)}::json) AS q(k text, p text, s text)
     ON CONFLICT (shard_id, partition_key)
     DO UPDATE SET sequence = GREATEST(ingest_checkpoint.sequence, EXCLUDED.sequence), updated_at = now()`;
}
