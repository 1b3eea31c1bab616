import type { SqlDatabase, SqlSession } from '#core/db/session';

/** What a statement writes or reads, from its text: the SQL share of a batch, split by table. */
export type StatementKind = 'telemetry' | 'state' | 'checkpoint' | 'outbox' | 'other';

export function statementKind(sql: string): StatementKind {
  const head = sql.slice(0, 200);
  if (/telemetry_events/.test(head)) return 'telemetry';
  if (/fact_state|rule_state|anomaly_state/.test(head)) return 'state';
  if (/ingest_checkpoint/.test(head)) return 'checkpoint';
  if (/outbox/.test(head)) return 'outbox';
  return 'other';
}

export interface SqlTimings {
  /** Time awaiting statements, by kind (ms); `transaction` is BEGIN + COMMIT. */
  ms: Record<StatementKind | 'transaction', number>;
  /** Of that, statements outside a transaction (ingest: the outbox publish phase). */
  outsideTransactionMs: number;
  statements: number;
}

export const emptySqlTimings = (): SqlTimings => ({
  ms: { telemetry: 0, state: 0, checkpoint: 0, outbox: 0, other: 0, transaction: 0 },
  outsideTransactionMs: 0,
  statements: 0,
});

export const totalSqlMs = (t: SqlTimings): number => Object.values(t.ms).reduce((a, b) => a + b, 0);

/**
 * Wraps a database so every statement's round trip is timed (client-side statement building is
 * not: it stays in the caller's time), without touching the code under test.
 */
export function timedDatabase(db: SqlDatabase, timings: () => SqlTimings): SqlDatabase {
  const wrap = (s: SqlSession, inTransaction: boolean): SqlSession => ({
    async query<R extends object>(text: string, params?: unknown[]) {
      const t0 = performance.now();
      try {
        return await s.query<R>(text, params);
      } finally {
        const t = timings();
        const ms = performance.now() - t0;
        t.ms[statementKind(text)] += ms;
        if (!inTransaction) t.outsideTransactionMs += ms;
        t.statements++;
      }
    },
    exec: (script) => s.exec(script),
    async copyFrom(statement: string, data: Buffer) {
      const t0 = performance.now();
      try {
        await s.copyFrom(statement, data);
      } finally {
        const t = timings();
        t.ms[statementKind(statement)] += performance.now() - t0;
        t.statements++;
      }
    },
    async batch(statements: readonly string[]) {
      const t0 = performance.now();
      try {
        return await s.batch(statements);
      } finally {
        // Packed statements share a round trip: their time goes to the kind of the first one.
        const t = timings();
        const ms = performance.now() - t0;
        t.ms[statementKind(statements[0] ?? '')] += ms;
        if (!inTransaction) t.outsideTransactionMs += ms;
        t.statements += statements.length;
      }
    },
  });
  const direct = wrap(db, false);
  return {
    ...direct,
    async transaction(work) {
      const t0 = performance.now();
      let inside = 0;
      try {
        return await db.transaction(async (tx) => {
          const w0 = performance.now();
          try {
            return await work(wrap(tx, true));
          } finally {
            inside += performance.now() - w0;
          }
        });
      } finally {
        timings().ms.transaction += performance.now() - t0 - inside;
      }
    },
  };
}
