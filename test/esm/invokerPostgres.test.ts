import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationEndedError } from '../../local/esm/invocationFence.ts';
import { localInvoker, TaskTimedOutError } from '../../local/esm/invoker.ts';
import { startPostgres, type LocalPostgres } from '../../local/services/postgres.ts';
import { latch, until } from '../helpers/esm.ts';

// The fence on database writes, against a real PostgreSQL: what Lambda's process kill does to a
// timed-out invocation's connections, the invoker does to the connections that invocation used.
let server: LocalPostgres;
let pool: pg.Pool;
/** A connection of the test's own, outside the one-connection pool the handlers share. */
let observer: pg.Client;
beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 1 });
  pool.on('error', () => undefined); // a connection the fence closes while idle in the pool
  observer = new pg.Client(server.url);
  await observer.connect();
  await observer.query('CREATE TABLE written (id text PRIMARY KEY)');
});
afterAll(async () => {
  await observer.end();
  await pool.end();
  await server.stop();
});

const fn = { functionName: 'writer', timeoutSeconds: 1, memoryMb: 512, region: 'us-east-1' };
const rows = async () => (await observer.query<{ id: string }>('SELECT id FROM written ORDER BY id')).rows.map((r) => r.id);
const openTransactions = async () => (await observer.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'")).rows[0]!.n;

describe('the local invoker and PostgreSQL', () => {
  it('rolls back the transaction a timed-out invocation left open, and refuses its later statements', async () => {
    // Prepare: the handler inserts inside a transaction, then stalls past its deadline before COMMIT.
    const resume = latch();
    let commit: Promise<unknown> | undefined;
    const invoke = localInvoker(fn, async () => {
      const client = await pool.connect();
      // Checked out, the client has no pool listener: the fence's socket close must not be uncaught
      // (layers/core/src/db/pg.ts listens the same way during a transaction).
      client.on('error', () => undefined);
      try {
        await client.query('BEGIN');
        await client.query("INSERT INTO written VALUES ('uncommitted')");
        await resume.promise;
        commit = client.query('COMMIT').catch((e: unknown) => e);
        await commit;
      } finally {
        client.release(true);
      }
    });

    // Act
    await expect(invoke({})).rejects.toBeInstanceOf(TaskTimedOutError);
    const ended = until('PostgreSQL ended the transaction', async () => (await openTransactions()) === 0, 10_000);
    await ended.finally(resume.open);
    await until('the late COMMIT settled', () => commit !== undefined);

    // Assess: the transaction ended at the deadline, while the handler still stalled; its COMMIT failed.
    expect(await commit).toBeInstanceOf(Error);
    expect(await rows()).toEqual([]);
  });

  it('fails a timed-out invocation’s late statement, and gives the connection it frees to the next invocation intact', async () => {
    // Prepare: a one-connection pool; the first invocation holds the connection past its deadline,
    // the second waits for it. Pool hand-over happens inside the releasing invocation's call.
    const resume = latch();
    let late: Promise<unknown> | undefined;
    const slow = localInvoker(fn, async () => {
      const client = await pool.connect();
      client.on('error', () => undefined);
      await resume.promise;
      late = client.query("INSERT INTO written VALUES ('late')").catch((e: unknown) => e);
      await late;
      client.release();
    });
    const next = localInvoker({ ...fn, timeoutSeconds: 30 }, async () => {
      await pool.query("INSERT INTO written VALUES ('next')");
    });

    // Act
    await expect(slow({})).rejects.toBeInstanceOf(TaskTimedOutError);
    const second = next({});
    resume.open();
    await second;

    // Assess
    expect(await late).toBeInstanceOf(InvocationEndedError);
    expect(await rows()).toEqual(['next']);
  });
});
