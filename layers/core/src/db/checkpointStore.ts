import { compareSequence } from '../reading.ts';
import type { Rows } from './session.ts';
import { recordset } from './recordset.ts';
import { jsonLiteral } from './sqlText.ts';

/** Where a stream position is committed: one shard and one partition key (Lambda's ordering unit). */
export interface StreamPosition {
  shardId: string;
  partitionKey: string;
  sequenceNumber: string;
}

/** Per shard, per partition key: nested maps, so no key string is built per record. */
export type Committed = ReadonlyMap<string, ReadonlyMap<string, string>>;

/**
 * The highest position per (shard, partition key) of a batch, found in one pass. Lambda delivers a
 * shard's records in sequence order, so walking back from the end meets each key's highest first:
 * then a record costs one comparison and a key one map write (a write per record was a twentieth
 * of a merge batch). A batch is one shard's: its map is looked up again only when the shard changes.
 */
export function highestPositions(positions: readonly StreamPosition[]): StreamPosition[] {
  const highest = new Map<string, Map<string, StreamPosition>>();
  let shard: string | undefined;
  let byKey = new Map<string, StreamPosition>();
  for (let i = positions.length - 1; i >= 0; i--) {
    const p = positions[i]!;
    if (p.shardId !== shard) {
      shard = p.shardId;
      const known = highest.get(shard);
      if (known) byKey = known;
      else highest.set(shard, (byKey = new Map<string, StreamPosition>()));
    }
    const seen = byKey.get(p.partitionKey);
    if (!seen || compareSequence(p.sequenceNumber, seen.sequenceNumber) > 0) byKey.set(p.partitionKey, p);
  }
  return [...highest.values()].flatMap((keys) => [...keys.values()]);
}

/**
 * A partition key as stored: Kinesis allows any Unicode in one, and PostgreSQL text cannot hold NUL
 * (nor json a lone surrogate as text), so keys are kept as the body of their JSON string literal.
 * That encoding is injective, ASCII-safe where it matters, and the identity for every ordinary key.
 */
export const storedPartitionKey = (key: string): string => JSON.stringify(key).slice(1, -1);

const CHECKPOINT = recordset({ shard_id: 'k text', partition_key: 'p text', sequence: 's text' });
const keysLiteral = (positions: readonly StreamPosition[]) =>
  jsonLiteral(positions.map((p) => CHECKPOINT.row({ shard_id: p.shardId, partition_key: storedPartitionKey(p.partitionKey), sequence: p.sequenceNumber })));

/**
 * Reads the committed sequence per (shard, partition key) of the batch. The checkpoint only tells
 * a Lambda redelivery from a producer resend, for the counters: which readings are new is decided
 * by their identity (ingest/plan.ts), so it needs no lock. Give it the batch's `highestPositions`.
 */
export function loadCheckpointsStatement(keys: readonly StreamPosition[]): string {
  return `SELECT c.shard_id, c.partition_key, c.sequence::text AS sequence
       FROM ingest_checkpoint c
       JOIN ${CHECKPOINT.from(keysLiteral(keys))} q ON c.shard_id = q.shard_id AND c.partition_key = q.partition_key`;
}

export function parseCheckpoints(rows: Rows): Committed {
  const committed = new Map<string, Map<string, string>>();
  for (const r of rows as Array<{ shard_id: string; partition_key: string; sequence: string }>) {
    let byKey = committed.get(r.shard_id);
    if (!byKey) committed.set(r.shard_id, (byKey = new Map<string, string>()));
    byKey.set(r.partition_key, r.sequence);
  }
  return committed;
}

/** Committed is keyed by stored partition keys (storedPartitionKey). */

export function isAlreadyCommitted(p: StreamPosition, committed: Committed): boolean {
  const seq = committed.get(p.shardId)?.get(storedPartitionKey(p.partitionKey));
  return seq !== undefined && compareSequence(p.sequenceNumber, seq) <= 0;
}

/** Advances each key to its highest sequence in the batch (never backwards). */
export function advanceCheckpointsStatement(highest: readonly StreamPosition[]): string | undefined {
  if (highest.length === 0) return undefined;
  return `INSERT INTO ingest_checkpoint (shard_id, partition_key, sequence)
     SELECT q.shard_id, q.partition_key, q.sequence::numeric FROM ${CHECKPOINT.from(keysLiteral(highest))} q
     ON CONFLICT (shard_id, partition_key)
     DO UPDATE SET sequence = GREATEST(ingest_checkpoint.sequence, EXCLUDED.sequence), updated_at = now()`;
}
