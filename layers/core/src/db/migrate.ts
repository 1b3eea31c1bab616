import { createHash } from 'node:crypto';
import type { SqlDatabase } from './session.ts';
import { checkServer } from '../warehouse/serverSupport.ts';

/**
 * Applies migrations in name order, each in its own transaction, recording what ran.
 * `NNNN_x.sql` runs on every engine, `NNNN_x.timescale.sql` only where TimescaleDB is available,
 * `NNNN_x.plain.sql` only on plain PostgreSQL (RDS behind RDS Proxy, the embedded database).
 * The same function runs for `npm run migrate` and for the deploy-time custom resource.
 */
export type Engine = 'timescale' | 'plain';

export interface Migration {
  name: string;
  sql: string;
}

export interface MigrationReport {
  engine: Engine;
  applied: string[];
  skipped: string[];
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const LOCK_KEY = 7_311_001; // any constant; one migrator at a time per database

/**
 * The engine a database is migrated for. Once chosen it is kept (schema_migrations records it): a
 * database migrated as plain PostgreSQL stays plain when TimescaleDB is installed later, because
 * its tables are partitions and rollup tables, not hypertables and continuous aggregates. A fresh
 * database gets TimescaleDB when the server offers it.
 */
export async function detectEngine(db: SqlDatabase): Promise<Engine> {
  const { rows } = await db.query<{ installed: boolean; available: boolean; migrated: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS installed,
            EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
            to_regclass('schema_migrations') IS NOT NULL AS migrated`,
  );
  const recorded = rows[0]?.migrated
    ? (await db.query<{ engines: string | null }>(`SELECT string_agg(DISTINCT engine, ',') AS engines FROM schema_migrations`)).rows[0]?.engines
    : null;
  const row = rows[0] && { ...rows[0], recorded };
  if (row?.recorded === 'plain') return 'plain';
  if (row?.recorded === 'timescale') {
    if (!row.installed) throw new MigrationError('this database was migrated for TimescaleDB, but the timescaledb extension is not installed in it');
    return 'timescale';
  }
  if (row?.recorded) throw new MigrationError(`schema_migrations records more than one engine (${row.recorded}): the schema is mixed; restore it before migrating`);
  if (row?.installed) return 'timescale';
  if (!row?.available) return 'plain';
  try {
    await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  } catch (e) {
    if (/preload/i.test((e as Error).message)) {
      throw new MigrationError(
        "TimescaleDB is installed on this server but not preloaded: add timescaledb to shared_preload_libraries in postgresql.conf (shared_preload_libraries = 'timescaledb') and restart PostgreSQL, then migrate again",
        { cause: e },
      );
    }
    throw e;
  }
  return 'timescale';
}

export function migrationsFor(engine: Engine, all: Migration[]): Migration[] {
  const other = engine === 'timescale' ? '.plain.sql' : '.timescale.sql';
  return all.filter((m) => m.name.endsWith('.sql') && !m.name.endsWith(other)).sort((a, b) => a.name.localeCompare(b.name));
}

const checksum = (sql: string): string => createHash('sha256').update(sql).digest('hex');

export async function migrate(db: SqlDatabase, all: Migration[]): Promise<MigrationReport> {
  const engine = await detectEngine(db);
  const unsupported = await checkServer(db, engine);
  if (unsupported) throw new MigrationError(unsupported);
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name text PRIMARY KEY, checksum text NOT NULL, engine text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const report: MigrationReport = { engine, applied: [], skipped: [] };
  for (const m of migrationsFor(engine, all)) {
    const ran = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const { rows } = await tx.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE name = $1', [m.name]);
      const done = rows[0];
      if (done) {
        if (done.checksum !== checksum(m.sql)) {
          throw new MigrationError(`${m.name} changed after it was applied; add a new migration instead`);
        }
        return false;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (name, checksum, engine) VALUES ($1, $2, $3)', [m.name, checksum(m.sql), engine]);
      return true;
    });
    (ran ? report.applied : report.skipped).push(m.name);
  }
  return report;
}
