import type { SqlSession } from '../db/session.ts';
import { GRAINS, type Grain } from './grains.ts';

/** Days each grain is kept; null keeps it forever. */
export type RetentionSettings = Record<Grain, number | null>;

export class RetentionError extends Error {
  override readonly name = 'RetentionError';
}

export async function readRetention(db: SqlSession): Promise<RetentionSettings> {
  const { rows } = await db.query<{ grain: string; keep_days: number | null }>(
    'SELECT grain, keep_days FROM warehouse_retention',
  );
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
 * warehouse_set_retention(): on TimescaleDB it rebuilds the retention and refresh policies in the
 * same transaction, on plain PostgreSQL the next maintenance run applies the setting. The database
 * refuses settings that would let a refresh erase aggregates (see migrations/0002).
 */
export async function setRetention(db: SqlSession, grain: Grain, days: number | null): Promise<RetentionSettings> {
  if (days !== null && (!Number.isInteger(days) || days < 1)) {
    throw new RetentionError(`retention must be a whole number of days >= 1, got ${days}`);
  }
  try {
    await db.query('SELECT warehouse_set_retention($1, $2)', [grain, days]);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    // check_violation / invalid_parameter_value: the rule the database enforces, worded for operators
    if (err.code === '23514' || err.code === '22023') throw new RetentionError(err.message ?? String(e));
    throw e;
  }
  return readRetention(db);
}
