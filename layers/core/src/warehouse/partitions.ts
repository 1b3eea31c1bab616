import type { SqlDatabase } from '../db/session.ts';

/** Daily partitions kept ready ahead of today (UTC), so ingest never waits for a maintenance run. */
export const PARTITION_DAYS_AHEAD = 3;

export interface PartitionReport {
  created: number;
  /** Rows moved out of the DEFAULT partition into a partition created for their day. */
  movedFromDefault: number;
  dropped: number;
  /** DEFAULT-partition rows deleted for being older than the raw retention. */
  purgedFromDefault: number;
}

/**
 * Plain PostgreSQL only: creates the partitions from the retention horizon to PARTITION_DAYS_AHEAD
 * days ahead. Dropping is a separate step (dropExpiredPartitions), run after the rollups have read
 * any late rows.
 */
export async function createPartitions(db: SqlDatabase, now: Date, rawDays: number): Promise<Pick<PartitionReport, 'created' | 'movedFromDefault'>> {
  const { rows } = await db.query<{ created: number; moved_rows: number }>(
    `SELECT created, moved_rows FROM warehouse_create_partitions(
       (($1::timestamptz - make_interval(days => $2)) AT TIME ZONE 'UTC')::date,
       ($1::timestamptz AT TIME ZONE 'UTC')::date + $3::integer)`,
    [now.toISOString(), rawDays, PARTITION_DAYS_AHEAD],
  );
  return { created: rows[0]?.created ?? 0, movedFromDefault: rows[0]?.moved_rows ?? 0 };
}

/**
 * Plain PostgreSQL only: drops whole days older than the raw retention (as TimescaleDB drops
 * chunks) and records the cut (dropped_before) in the same transaction, so no later, longer
 * setting folds rows from before it into the aggregates again.
 */
export async function dropExpiredPartitions(db: SqlDatabase, now: Date, rawDays: number): Promise<Pick<PartitionReport, 'dropped' | 'purgedFromDefault'>> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ dropped: number; purged_rows: number }>(
      `SELECT dropped, purged_rows FROM warehouse_drop_partitions($1::timestamptz - make_interval(days => $2))`,
      [now.toISOString(), rawDays],
    );
    await tx.query(
      `UPDATE warehouse_retention SET dropped_before = greatest(dropped_before, $1::timestamptz - make_interval(days => $2))
       WHERE grain = 'raw'`,
      [now.toISOString(), rawDays],
    );
    return { dropped: rows[0]?.dropped ?? 0, purgedFromDefault: rows[0]?.purged_rows ?? 0 };
  });
}
