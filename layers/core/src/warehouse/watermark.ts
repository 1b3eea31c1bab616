import type { SqlDatabase, SqlSession } from '../db/session.ts';

/**
 * How far back each incremental run looks before its watermark. A row's ingested_at is its
 * writer's transaction start, and that transaction may commit after a maintenance run has read
 * past it; the overlap (far longer than any writer transaction: statement timeout 15 s, function
 * timeout 60 s) makes the next run see it. Re-reading a row is harmless: every bucket and
 * interval is recomputed whole from its rows and upserted.
 */
export const WATERMARK_OVERLAP = '5 minutes';

export type WatermarkTask = 'rollups' | 'oee';

export type IncrementalRun<T> = { status: 'done'; since: string; through: string; result: T } | { status: 'skipped'; reason: string };

/**
 * Runs `work` for rows ingested since the task's watermark (minus the overlap), then moves the
 * watermark to this transaction's start, all in one transaction. The watermark row is also the
 * task's lock: a concurrent run skips instead of doing the same work twice.
 */
export async function withWatermark<T>(db: SqlDatabase, task: WatermarkTask, work: (tx: SqlSession, since: string) => Promise<T>): Promise<IncrementalRun<T>> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ since: string; through: string }>(
      `SELECT ingested_through - INTERVAL '${WATERMARK_OVERLAP}' AS since, now() AS through
       FROM maintenance_watermarks WHERE task = $1 FOR UPDATE SKIP LOCKED`,
      [task],
    );
    const row = rows[0];
    if (!row) return { status: 'skipped', reason: `another maintenance run holds the ${task} watermark` };
    const result = await work(tx, row.since);
    await tx.query('UPDATE maintenance_watermarks SET ingested_through = now(), updated_at = now() WHERE task = $1', [task]);
    return { status: 'done', since: row.since, through: row.through, result };
  });
}
