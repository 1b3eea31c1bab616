import type { Engine } from '../db/migrate.ts';
import type { SqlSession } from '../db/session.ts';

/**
 * The oldest servers the warehouse migrations run on, checked before any migration is applied so
 * an old server fails with one clear sentence instead of a function that does not exist halfway.
 *   TimescaleDB 2.19: refresh policies with buckets_per_batch (0003, 0008); 2.18 added the
 *     columnstore API (add_columnstore_policy). Tested: 2.23 (PGlite, the test suite) and 2.28.3
 *     on PostgreSQL 15 (a real server; see docs/warehouse.md for its known upstream bug).
 *   PostgreSQL 14: SQL-standard function bodies and numeric Infinity (0007).
 */
export const MIN_TIMESCALEDB = [2, 19, 0] as const;
export const MIN_POSTGRES = 14;

/** '2.23.0-dev' -> [2, 23, 0]; null when it is not a version number. */
export function parseVersion(v: string): number[] | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

const atLeast = (v: readonly number[], min: readonly number[]): boolean => {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
};

/** Why this server cannot run the warehouse, or null when it can. */
export function serverProblem(engine: Engine, postgresNum: number, timescaledb: string | null): string | null {
  if (postgresNum < MIN_POSTGRES * 10_000) {
    return `PostgreSQL ${Math.floor(postgresNum / 10_000)} is too old: tapline needs PostgreSQL ${MIN_POSTGRES} or later`;
  }
  if (engine !== 'timescale') return null;
  const version = timescaledb === null ? null : parseVersion(timescaledb);
  if (version && atLeast(version, MIN_TIMESCALEDB)) return null;
  return (
    `TimescaleDB ${timescaledb ?? '(unknown version)'} is installed, but tapline needs ${MIN_TIMESCALEDB.join('.')} or later ` +
    '(refresh policies with buckets_per_batch). Install a newer timescaledb package, then run ' +
    '`ALTER EXTENSION timescaledb UPDATE` in this database, and migrate again. Tested: 2.23 and 2.28.3.'
  );
}

export async function checkServer(db: SqlSession, engine: Engine): Promise<string | null> {
  const { rows } = await db.query<{ num: number; timescaledb: string | null }>(
    `SELECT current_setting('server_version_num')::int AS num,
            (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb`,
  );
  return serverProblem(engine, rows[0]?.num ?? 0, rows[0]?.timescaledb ?? null);
}
