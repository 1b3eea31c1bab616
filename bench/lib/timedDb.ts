import type { SqlDatabase, SqlSession } from '#core/db/session';
import { watchTaken } from '#core/chunks';
import { packStatements } from '#core/db/sqlText';

/** What a statement writes or reads, from its text: the SQL share of a batch, split by table. */
export type StatementKind = 'telemetry' | 'state' | 'checkpoint' | 'outbox' | 'other';

export function statementKind(sql: string): StatementKind {
  const head = sql.slice(0, 200);
  if (/telemetry_events/.test(head)) return 'telemetry';
  if (/rule_state|ingest_source \(source, facts/.test(head)) return 'state';
  if (/ingest_checkpoint/.test(head)) return 'checkpoint';
  if (/outbox/.test(head)) return 'outbox';
  return 'other';
}

export interface SqlTimings {
  /**
   * Time awaiting statements, by kind (ms); `transaction` is BEGIN + COMMIT. Statements the
   * code under test keeps in flight together (the rows' COPY beside the commit) overlap here.
   */
  ms: Record<StatementKind | 'transaction', number>;
  /** Time with at least one statement in flight: the batch's SQL share of its wall time (ms). */
  wallMs: number;
  /** Messages sent and answered: what a network hop (Lambda to RDS Proxy) adds its latency to. */
  roundTrips: number;
  /** Of that, statements outside a transaction (ingest: the outbox publish phase). */
  outsideTransactionMs: number;
  /** The transaction's first round trip until its caller takes the answer (ingest: the load, sent before the decode). */
  firstMs: number;
  statements: number;
}

export const emptySqlTimings = (): SqlTimings => ({
  ms: { telemetry: 0, state: 0, checkpoint: 0, outbox: 0, other: 0, transaction: 0 },
  wallMs: 0,
  roundTrips: 0,
  outsideTransactionMs: 0,
  firstMs: 0,
  statements: 0,
});

/**
 * Wraps a database so every statement's round trip is timed (client-side statement building is
 * not: it stays in the caller's time), without touching the code under test.
 */
export function timedDatabase(db: SqlDatabase, timings: () => SqlTimings): SqlDatabase {
  let inFlight = 0;
  let busySince = 0;
  /** Times one round trip (or a packed group of them) as `kind`, and the union of all in flight. */
  const timed = async <T>(kind: StatementKind, count: { statements: number; roundTrips: number }, outside: boolean, op: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    if (inFlight++ === 0) busySince = t0;
    try {
      return await op();
    } finally {
      const t = timings();
      const now = performance.now();
      t.ms[kind] += now - t0;
      if (outside) t.outsideTransactionMs += now - t0;
      if (--inFlight === 0) t.wallMs += now - busySince;
      t.statements += count.statements;
      t.roundTrips += count.roundTrips;
    }
  };
  const one = { statements: 1, roundTrips: 1 };
  const wrap = (s: SqlSession, inTransaction: boolean): SqlSession => ({
    query: <R extends object>(text: string, params?: unknown[]) => timed(statementKind(text), one, !inTransaction, () => s.query<R>(text, params)),
    exec: (script) => s.exec(script),
    copyFrom: (statement: string, data: Buffer | AsyncIterable<Buffer>) => {
      const time = (copying: Promise<void>) => timed(statementKind(statement), one, !inTransaction, () => copying);
      if (Buffer.isBuffer(data)) return time(s.copyFrom(statement, data));
      const { chunks, allTaken } = watchTaken(data);
      const copying = s.copyFrom(statement, chunks);
      // Timed from when its data is made: until then the function, not the database, is what waits.
      return Promise.race([allTaken, copying]).then(
        () => time(copying),
        () => copying,
      );
    },
    // Packed statements share a message: their time goes to the kind of the first one.
    batch: (statements: readonly string[]) =>
      timed(statementKind(statements[0] ?? ''), { statements: statements.length, roundTrips: packStatements(statements).length }, !inTransaction, () => s.batch(statements)),
  });
  const direct = wrap(db, false);
  return {
    ...direct,
    async transaction(work) {
      const t0 = performance.now();
      let inside = 0;
      let committedInside = false;
      try {
        return await db.transaction(async (tx) => {
          const w0 = performance.now();
          try {
            const session = wrap(tx, true);
            let first = true;
            return await work({
              ...session,
              batch: (statements: readonly string[]) => {
                if (!first) return session.batch(statements);
                first = false;
                const t1 = performance.now();
                return session.batch(statements).finally(() => (timings().firstMs += performance.now() - t1));
              },
              batchAndCommit: (statements: readonly string[]) => {
                committedInside = true;
                const count = { statements: statements.length, roundTrips: packStatements([...statements, 'COMMIT']).length };
                return timed(statementKind(statements[0] ?? ''), count, false, () => tx.batchAndCommit(statements));
              },
            });
          } finally {
            inside += performance.now() - w0;
          }
        });
      } finally {
        const t = timings();
        const ms = performance.now() - t0 - inside;
        // BEGIN travels with the first statement; COMMIT with the last, or as a round trip of its own.
        t.ms.transaction += ms;
        t.wallMs += ms;
        if (!committedInside) t.roundTrips++;
      }
    },
  };
}
