import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { setImmediate } from 'node:timers/promises';
import pg from 'pg';
import { from as copyStream } from 'pg-copy-streams';
import type { Rows, SqlDatabase, SqlSession, SqlTransaction } from './session.ts';
import { isConnectionError } from './pgErrors.ts';
import { packStatements } from './sqlText.ts';

// The classifiers live in pgErrors.ts; ingest and the pool's retry import them from here.
export { isConnectionError, isDataError, isRetryableTransactionError } from './pgErrors.ts';

// timestamptz as ISO text keeps microseconds and avoids Date's millisecond truncation;
// bigint counts come back as numbers because every count tapline reads fits in 2^53.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const sessionOf = (c: pg.ClientBase | pg.Pool): SqlSession => ({
  async query<R extends object>(text: string, params?: unknown[]) {
    const r = await c.query(text, params);
    return { rows: r.rows as R[] };
  },
  async exec(script: string) {
    await c.query(script);
  },
  async batch(statements: readonly string[]) {
    const out: Rows[] = [];
    for (const message of packStatements(statements)) {
      // A multi-statement simple query yields one result per statement; a single one, one result.
      const r = (await c.query(message.join(';\n'))) as unknown as pg.QueryResult | pg.QueryResult[];
      for (const result of Array.isArray(r) ? r : [r]) out.push(result.rows as Rows);
    }
    return out;
  },
  async copyFrom(statement: string, data: Buffer | AsyncIterable<Buffer>) {
    const client = c instanceof pg.Pool ? await c.connect() : c;
    try {
      await streamCopy(client.query(copyStream(statement)), Buffer.isBuffer(data) ? [data] : data);
    } finally {
      if (client !== c) (client as pg.PoolClient).release();
    }
  },
});

/**
 * A transaction's session that sends BEGIN together with its first statements, and COMMIT with its
 * last (batchAndCommit), instead of as round trips of their own (PostgreSQL keeps an explicit BEGIN
 * open past the end of the message).
 */
type CopyStream = ReturnType<typeof copyStream>;

/**
 * Writes the chunks into a started COPY as they are made, then ends it. The next chunk is made
 * while the last one travels, and at most one waits in the client: pg-copy-streams holds data
 * until the server's CopyInResponse, and a write it could not finish before the server ended the
 * COPY with an error would be flushed later into the connection it has let go of, outside any
 * caller. The server's error (a unique violation, a deadlock) is the one reported, even when the
 * data is still being made.
 */
async function streamCopy(copy: CopyStream, chunks: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<void> {
  // Listened to from the start: an 'error' nobody listens to would bring the process down.
  let stopped: unknown;
  const done = finished(copy);
  done.catch((e: unknown) => (stopped = e));
  let travelling: Promise<unknown> | undefined;
  try {
    for await (const chunk of chunks) {
      if (travelling) await travelling;
      if (stopped !== undefined) break;
      travelling = copy.write(chunk) ? undefined : Promise.race([once(copy, 'drain'), done]).catch(() => undefined);
      // A turn of the event loop lets the CopyInResponse, or the socket's progress, in while the
      // caller makes the next chunk, so the server writes rows while the function works.
      await setImmediate();
    }
    if (travelling) await travelling;
  } catch (e) {
    if (stopped !== undefined) throw stopped;
    // CopyFail ends the COPY (its own error is this one's consequence), so the connection can
    // roll back; the caller gets the error that stopped the data.
    copy.destroy(e as Error);
    await done.catch(() => undefined);
    throw e;
  }
  if (stopped !== undefined) throw stopped;
  copy.end();
  await done;
}

function lazyTransaction(client: pg.ClientBase): SqlTransaction & { begun: () => boolean; committed: () => boolean } {
  const s = sessionOf(client);
  let begun = false;
  let committed = false;
  // Sends in this very call once BEGIN is out: an await first would queue the statement behind
  // whatever the caller set going meanwhile (ingest makes the rows while the COPY's handshake travels).
  const afterBegin = <T>(send: () => Promise<T>): Promise<T> => {
    if (begun) return send();
    begun = true;
    return client.query('BEGIN').then(send);
  };
  const batch = async (statements: readonly string[]) => {
    if (begun) return s.batch(statements);
    begun = true;
    return (await s.batch(['BEGIN', ...statements])).slice(1);
  };
  return {
    begun: () => begun,
    committed: () => committed,
    async query<R extends object>(text: string, params?: unknown[]) {
      if (begun || (params && params.length > 0)) return afterBegin(() => s.query<R>(text, params));
      begun = true;
      const [, rows] = await s.batch(['BEGIN', text]);
      return { rows: (rows ?? []) as R[] };
    },
    async exec(script: string) {
      if (begun) return s.exec(script);
      begun = true;
      return s.exec(`BEGIN;\n${script}`);
    },
    batch,
    copyFrom: (statement: string, data: Buffer | AsyncIterable<Buffer>) => afterBegin(() => s.copyFrom(statement, data)),
    async batchAndCommit(statements: readonly string[]) {
      // Statements after a failed one in the same message are skipped, COMMIT with them: the
      // error reaches the caller and the transaction is rolled back as any other.
      const results = await batch([...statements, 'COMMIT']);
      committed = true;
      return results.slice(0, -1);
    },
  };
}

/** Runs `op` once more after a dead-connection error: the pool then opens a fresh socket. */
async function retryOnceOnDeadConnection<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (!isConnectionError(e)) throw e;
    return op();
  }
}

/**
 * Wraps a pg.Pool as a SqlDatabase. Every write tapline makes is idempotent, so re-running a
 * transaction whose connection died (even during COMMIT) cannot duplicate anything.
 */
export function pgDatabase(pool: pg.Pool): SqlDatabase {
  const direct = sessionOf(pool);
  return {
    query: (text, params) => retryOnceOnDeadConnection(() => direct.query(text, params)),
    exec: (script) => retryOnceOnDeadConnection(() => direct.exec(script)),
    batch: (statements) => retryOnceOnDeadConnection(() => direct.batch(statements)),
    // Chunks once taken cannot be given again: only whole data is sent twice.
    copyFrom: (statement, data) => (Buffer.isBuffer(data) ? retryOnceOnDeadConnection(() => direct.copyFrom(statement, data)) : direct.copyFrom(statement, data)),
    transaction: (work) =>
      retryOnceOnDeadConnection(async () => {
        const client = await pool.connect();
        const tx = lazyTransaction(client);
        let broken = false;
        // pg-pool stops listening for errors on a checked-out client: a socket dying between two
        // statements of this transaction would otherwise be an uncaught 'error' event.
        const onError = () => {
          broken = true;
        };
        client.on('error', onError);
        try {
          const result = await work(tx);
          if (tx.begun() && !tx.committed()) await client.query('COMMIT');
          return result;
        } catch (e) {
          // A failed ROLLBACK means the socket is unusable: destroy it rather than pool it.
          if (tx.begun())
            broken = await client.query('ROLLBACK').then(
              () => false,
              () => true,
            );
          throw e;
        } finally {
          client.off('error', onError);
          client.release(broken || undefined);
        }
      }),
  };
}
