import type { Engine } from '../db/migrate.ts';
import type { SqlDatabase } from '../db/session.ts';
import { installedEngine } from './grains.ts';
import { refreshOee, type OeeReport } from './oee.ts';
import { createPartitions, dropExpiredPartitions, type PartitionReport } from './partitions.ts';
import { applyPolicies, type PolicyChange } from './policies.ts';
import { readRetention, type RetentionSettings } from './retention.ts';
import { expireRollups, foldWindow, refreshRollups, type ExpiredRollups, type RollupReport } from './rollups.ts';

export interface MaintenanceOptions {
  /** The clock for partitions, retention and OEE completeness (tests move it); default: now. */
  now?: Date;
  /**
   * TimescaleDB: also add missing policies and re-enable paused jobs (`npm run maintenance --
   * --repair`). Without it, maintenance only keeps existing policies in line with the settings.
   */
  repair?: boolean;
}

/** A step that failed: the others still ran (one failure never stops the rest). */
export interface StepFailure {
  step: string;
  error: string;
}

export interface MaintenanceReport {
  engine: Engine;
  startedAt: string;
  finishedAt: string;
  retention: RetentionSettings;
  /** Plain PostgreSQL only (TimescaleDB: chunks and the retention policy). */
  partitions: Partial<PartitionReport> | null;
  /** Plain PostgreSQL only (TimescaleDB: continuous aggregates and their refresh policies). */
  rollups: RollupReport | null;
  /** Plain PostgreSQL only (TimescaleDB: the aggregates' retention policies). */
  expiredRollups: ExpiredRollups | null;
  /** TimescaleDB only: policy jobs changed, added, or not as they should be. */
  policies: PolicyChange[] | null;
  oee: OeeReport | null;
  failures: StepFailure[];
}

export class MaintenanceError extends Error {
  override readonly name = 'MaintenanceError';
}

/** Runs are recorded for `npm run verify`; older records than this are pruned. */
const RUN_HISTORY_DAYS = 7;

type Steps = Pick<MaintenanceReport, 'partitions' | 'rollups' | 'expiredRollups' | 'policies' | 'oee' | 'failures'>;

/**
 * The warehouse's periodic step (scheduled function in AWS, a timer in `npm run local`, `npm run
 * maintenance`). Plain PostgreSQL: partitions ahead, incremental rollups, OEE, then retention
 * (partitions and rollup rows), in that order so late rows are rolled up before their partition
 * can go. TimescaleDB: policies kept in line with the settings, and OEE; the policies do the rest.
 * Each step runs even when another failed (retention waits for a successful rollup, so no row is
 * dropped before it is aggregated). Safe to run concurrently and repeatedly. Every run is
 * recorded in maintenance_runs, failed if any step failed; then a MaintenanceError is thrown.
 */
export async function runMaintenance(db: SqlDatabase, opts: MaintenanceOptions = {}): Promise<MaintenanceReport> {
  const now = opts.now ?? new Date();
  const startedAt = new Date().toISOString();
  const engine = await installedEngine(db);
  let steps: Steps;
  let retention: RetentionSettings;
  try {
    retention = await readRetention(db);
    steps = engine === 'plain' ? await plainSteps(db, now, retention) : await timescaleSteps(db, now, opts.repair ?? false);
  } catch (e) {
    await recordFailure(db, engine, startedAt, message(e), e);
    throw new MaintenanceError(`maintenance failed: ${message(e)}`, { cause: e });
  }
  const report: MaintenanceReport = { engine, startedAt, finishedAt: new Date().toISOString(), retention, ...steps };
  if (report.failures.length) {
    const summary = report.failures.map((f) => `${f.step}: ${f.error}`).join('; ');
    await recordFailure(db, engine, startedAt, summary, undefined, report);
    throw new MaintenanceError(`maintenance failed: ${summary}`);
  }
  await db.query(`INSERT INTO maintenance_runs (engine, status, started_at, finished_at, report) VALUES ($1, 'ok', $2, $3, $4::jsonb)`, [
    engine,
    report.startedAt,
    report.finishedAt,
    JSON.stringify(report),
  ]);
  await db.query(`DELETE FROM maintenance_runs WHERE started_at < now() - make_interval(days => $1)`, [RUN_HISTORY_DAYS]);
  return report;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function recordFailure(db: SqlDatabase, engine: Engine, startedAt: string, error: string, cause: unknown, report?: MaintenanceReport): Promise<void> {
  try {
    await db.query(`INSERT INTO maintenance_runs (engine, status, started_at, finished_at, report, error) VALUES ($1, 'failed', $2, now(), $3::jsonb, $4)`, [
      engine,
      startedAt,
      report ? JSON.stringify(report) : null,
      error,
    ]);
  } catch (recordError) {
    throw new MaintenanceError(`maintenance failed (${error}) and could not be recorded: ${String(recordError)}`, { cause });
  }
}

/** Runs one step, turning its failure into a StepFailure (recorded and rethrown by runMaintenance). */
async function step<T>(failures: StepFailure[], name: string, work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (e) {
    failures.push({ step: name, error: message(e) });
    return null;
  }
}

async function plainSteps(db: SqlDatabase, now: Date, retention: RetentionSettings): Promise<Steps> {
  const failures: StepFailure[] = [];
  const rawDays = retention.raw ?? 0; // unreachable fallback: the database refuses NULL for raw
  const created = await step(failures, 'partitions', () => createPartitions(db, now, rawDays));
  const rollups = await step(failures, 'rollups', async () => refreshRollups(db, await foldWindow(db, now)));
  const oee = await step(failures, 'oee', () => refreshOee(db, now));
  // Retention only after the rollups have read every late row: a failed rollup keeps the input.
  const dropped = rollups ? await step(failures, 'retention', () => dropExpiredPartitions(db, now, rawDays)) : null;
  const expiredRollups = rollups ? await step(failures, 'rollup retention', () => expireRollups(db, now, retention)) : null;
  return { partitions: { ...created, ...dropped }, rollups, expiredRollups, policies: null, oee, failures };
}

async function timescaleSteps(db: SqlDatabase, now: Date, repair: boolean): Promise<Steps> {
  const failures: StepFailure[] = [];
  // Policies run on the server's clock, so their windows are computed on it too (not on `now`).
  const policies = await step(failures, 'policies', () => applyPolicies(db, { repair }));
  const oee = await step(failures, 'oee', () => refreshOee(db, now));
  return { partitions: null, rollups: null, expiredRollups: null, policies, oee, failures };
}
