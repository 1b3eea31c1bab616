import type { SqlSession } from '../db/session.ts';
import { GRAINS, type Grain } from './grains.ts';

/** Days each grain is kept; null keeps it forever. */
export type RetentionSettings = Record<Grain, number | null>;

export class RetentionError extends Error {
  override readonly name = 'RetentionError';
}

export async function readRetention(db: SqlSession): Promise<RetentionSettings> {
  const { rows } = await db.query<{ grain: string; keep_days: number | null }>('SELECT grain, keep_days FROM warehouse_retention');
  const byGrain = new Map(rows.map((r) => [r.grain, r.keep_days]));
  const settings = {} as RetentionSettings;
  for (const g of GRAINS) {
    if (!byGrain.has(g)) throw new RetentionError(`warehouse_retention has no row for "${g}": is the database migrated?`);
    settings[g] = byGrain.get(g) ?? null;
  }
  return settings;
}

/**
 * Replaces a grain's retention on either engine through the database's own
 * warehouse_set_retention() (migration 0007): it records how far the old setting may have dropped
 * (so no longer setting ever folds dropped rows again), and on TimescaleDB alters, in the same
 * transaction, only the policies the setting changes; on plain PostgreSQL the next maintenance run
 * applies it. The database refuses settings that would let a refresh erase aggregates (0002).
 * `now` is the clock of the change (tests move it); default: the database's.
 */
export async function setRetention(db: SqlSession, grain: Grain, days: number | null, opts: { now?: Date } = {}): Promise<RetentionSettings> {
  if (days !== null && (!Number.isInteger(days) || days < 1)) {
    throw new RetentionError(`retention must be a whole number of days >= 1, got ${days}`);
  }
  try {
    await db.query('SELECT warehouse_set_retention($1, $2, coalesce($3::timestamptz, now()))', [grain, days, opts.now?.toISOString() ?? null]);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    // check_violation / invalid_parameter_value: the rule the database enforces, worded for operators
    if (err.code === '23514' || err.code === '22023') throw new RetentionError(err.message ?? String(e));
    throw e;
  }
  return readRetention(db);
}
