import type { Engine } from '../db/migrate.ts';
import type { SqlDatabase } from '../db/session.ts';
import { installedEngine } from './grains.ts';
import { refreshOee, type OeeReport } from './oee.ts';
import { createPartitions, dropExpiredPartitions, type PartitionReport } from './partitions.ts';
import { readRetention, type RetentionSettings } from './retention.ts';
import { expireRollups, refreshRollups, type ExpiredRollups, type RollupReport } from './rollups.ts';

export interface MaintenanceOptions {
  /** The clock for partitions, retention and OEE completeness (tests move it); default: now. */
  now?: Date;
}

export interface MaintenanceReport {
  engine: Engine;
  startedAt: string;
  finishedAt: string;
  retention: RetentionSettings;
  /** Plain PostgreSQL only (TimescaleDB: chunks and the retention policy). */
  partitions: PartitionReport | null;
  /** Plain PostgreSQL only (TimescaleDB: continuous aggregates and their refresh policies). */
  rollups: RollupReport | null;
  /** Plain PostgreSQL only (TimescaleDB: the aggregates' retention policies). */
  expiredRollups: ExpiredRollups | null;
  oee: OeeReport;
}

export class MaintenanceError extends Error {
  override readonly name = 'MaintenanceError';
}

/** Runs are recorded for `npm run verify`; older records than this are pruned. */
const RUN_HISTORY_DAYS = 7;

/**
 * The warehouse's periodic step (scheduled function in AWS, a timer in `npm run local`).
 * Plain PostgreSQL: partitions ahead, incremental rollups, OEE, then retention (partitions and
 * rollup rows), in that order so late rows are rolled up before their partition can go.
 * TimescaleDB: OEE only; its policies do the rest. Safe to run concurrently and repeatedly.
 * Every run, failed or not, is recorded in maintenance_runs; a failure is rethrown.
 */
export async function runMaintenance(db: SqlDatabase, opts: MaintenanceOptions = {}): Promise<MaintenanceReport> {
  const now = opts.now ?? new Date();
  const startedAt = new Date().toISOString();
  const engine = await installedEngine(db);
  try {
    const retention = await readRetention(db);
    const steps = engine === 'plain'
      ? await plainSteps(db, now, retention)
      : { partitions: null, rollups: null, expiredRollups: null, oee: await refreshOee(db, now) };
    const report: MaintenanceReport = { engine, startedAt, finishedAt: new Date().toISOString(), retention, ...steps };
    await db.query(
      `INSERT INTO maintenance_runs (engine, status, started_at, finished_at, report) VALUES ($1, 'ok', $2, $3, $4::jsonb)`,
      [engine, report.startedAt, report.finishedAt, JSON.stringify(report)],
    );
    await db.query(`DELETE FROM maintenance_runs WHERE started_at < now() - make_interval(days => $1)`, [RUN_HISTORY_DAYS]);
    return report;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    try {
      await db.query(
        `INSERT INTO maintenance_runs (engine, status, started_at, finished_at, error) VALUES ($1, 'failed', $2, now(), $3)`,
        [engine, startedAt, message],
      );
    } catch (recordError) {
      throw new MaintenanceError(`maintenance failed (${message}) and could not be recorded: ${String(recordError)}`, { cause: e });
    }
    throw new MaintenanceError(`maintenance failed: ${message}`, { cause: e });
  }
}

type Steps = Pick<MaintenanceReport, 'partitions' | 'rollups' | 'expiredRollups' | 'oee'>;

async function plainSteps(db: SqlDatabase, now: Date, retention: RetentionSettings): Promise<Steps> {
  const rawDays = retention.raw ?? 0; // unreachable fallback: the database refuses NULL for raw
  const created = await createPartitions(db, now, rawDays);
  const rollups = await refreshRollups(db, now, rawDays);
  const oee = await refreshOee(db, now);
  const dropped = await dropExpiredPartitions(db, now, rawDays);
  const expiredRollups = await expireRollups(db, now, retention);
  return { partitions: { ...created, ...dropped }, rollups, expiredRollups, oee };
}
