import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectDatabase, type Database } from '#core/db/connect';
import { readEnv } from '#core/env';
import { SESSION_LIMITS } from '#core/db/sessionLimits';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.ts';
import { frontendTap, pinsOfAll } from '../helpers/pgWire.ts';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';

// The IAM signer needs credentials to exist (it signs locally); the test never reaches AWS.
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

let pg: MigratedPostgres;
const opened: Array<Database | TcpProxy> = [];

beforeAll(async () => {
  pg = await startMigratedPostgres();
});
afterEach(async () => {
  for (const o of opened.splice(0)) await ('end' in o ? o.end() : o.stop());
});
afterAll(async () => pg?.stop());

async function database(vars: Record<string, string> = {}): Promise<Database> {
  const db = await connectDatabase(readEnv({ DATABASE_URL: pg.url, DB_POOL_MAX: '1', ...vars }));
  opened.push(db);
  return db;
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** Watches every socket write of the process for these texts: `seen` holds those written so far. */
function socketWritesOf(texts: readonly string[]): { seen: Set<string>; written: (text: string) => Promise<void>; restore: () => void } {
  const seen = new Set<string>();
  const waiting = new Map<string, () => void>();
  const { write: original } = net.Socket.prototype as { write: (this: net.Socket, ...args: unknown[]) => boolean };
  const spy = vi.spyOn(net.Socket.prototype, 'write').mockImplementation(function (this: net.Socket, ...args: unknown[]) {
    for (const text of texts)
      if (Buffer.isBuffer(args[0]) && args[0].includes(text)) {
        seen.add(text);
        waiting.get(text)?.();
      }
    return original.apply(this, args);
  });
  return {
    seen,
    written: (text) => (seen.has(text) ? Promise.resolve() : new Promise((ok) => waiting.set(text, ok))),
    restore: () => spy.mockRestore(),
  };
}

/**
 * Terminates, from another session, up to `times` backends that run `marker`: a server restart or
 * an RDS Proxy cut, as seen by the client in the middle of its query.
 */
function terminateWhileRunning(marker: string, times: number): { stop: () => Promise<number> } {
  let killed = 0;
  let running = true;
  const loop = (async () => {
    while (running && killed < times) {
      const { rows } = await pg.db.query<{ ok: boolean }>(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()`, [
        `%${marker}%`,
      ]);
      killed += rows.filter((r) => r.ok).length;
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return killed;
    },
  };
}

describe('database connections', () => {
  it('reconnects once when the server ends the connection in the middle of a query', async () => {
    // Prepare
    const db = await database();
    await db.query('SELECT 1');
    const killer = terminateWhileRunning('reconnect-once-probe', 1);

    // Act
    const result = await db.query<{ ok: number }>("SELECT 1 AS ok FROM pg_sleep(0.5) WHERE 'reconnect-once-probe' <> ''");

    // Assess
    expect(await killer.stop()).toBe(1);
    expect(result.rows).toEqual([{ ok: 1 }]);
  });

  it('fails after that one reconnect when the new connection dies too', async () => {
    // Prepare
    const db = await database();
    const killer = terminateWhileRunning('fail-after-one-probe', 5);

    // Act
    const outcome = await db.query("SELECT 1 FROM pg_sleep(0.5) WHERE 'fail-after-one-probe' <> ''").then(
      () => 'succeeded',
      (e: { code?: string }) => e.code,
    );

    // Assess: two attempts, each terminated (57P01), and no third.
    await sleep(700);
    expect(outcome).toBe('57P01');
    expect(await killer.stop()).toBe(2);
  });

  it('retries a transaction whose connection died between two of its statements, without crashing the process', async () => {
    // Prepare: the ingest transaction awaits other work between statements (e.g. the DLQ send);
    // the server may end the connection right then (restart, failover, proxy cut).
    const db = await database();
    const uncaught: unknown[] = [];
    const record = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', record);
    let attempts = 0;

    // Act
    const result = await db
      .transaction(async (tx) => {
        attempts++;
        const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        if (attempts === 1) {
          await pg.db.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
          await sleep(300);
        }
        return tx.query<{ ok: number }>('SELECT 1 AS ok');
      })
      .finally(() => process.off('uncaughtException', record));

    // Assess
    expect(result.rows).toEqual([{ ok: 1 }]);
    expect(attempts).toBe(2);
    expect(uncaught).toEqual([]);
  });

  it('commits with the last statements when they succeed, and rolls all back when one of them fails', async () => {
    // Prepare: a table of this test's own, and a pool of one connection (Lambda's).
    const db = await database();
    await db.exec('CREATE TABLE IF NOT EXISTS commit_with_last (n int)');
    await db.exec('TRUNCATE commit_with_last');

    // Act: one transaction whose last message fails after an insert, then one that succeeds.
    const failed = db.transaction(async (tx) => {
      await tx.batch(['INSERT INTO commit_with_last VALUES (1)']);
      return tx.batchAndCommit(['INSERT INTO commit_with_last VALUES (2)', 'SELECT 1 / 0']);
    });
    await expect(failed).rejects.toMatchObject({ code: '22012' });
    const committed = await db.transaction((tx) => tx.batchAndCommit(['INSERT INTO commit_with_last VALUES (3)', 'SELECT count(*)::int AS n FROM commit_with_last']));

    // Assess: nothing of the failed one, the second committed, the connection usable after both.
    expect(committed).toEqual([[], [{ n: 1 }]]);
    const { rows } = await db.query<{ n: number }>('SELECT n FROM commit_with_last');
    expect(rows).toEqual([{ n: 3 }]);
  });

  it('fails a COPY whose data could not be made with that error, and leaves the connection usable', async () => {
    // Prepare
    const db = await database();
    await db.exec('CREATE TABLE IF NOT EXISTS copy_data_failed (n int)');
    const cause = new Error('rows could not be made');

    // Act: the first chunk goes in, then making the second fails.
    const copying = db.transaction((tx) =>
      tx.copyFrom(
        'COPY copy_data_failed (n) FROM STDIN',
        (async function* () {
          yield Buffer.from('1\n2\n');
          throw cause;
        })(),
      ),
    );

    // Assess
    await expect(copying).rejects.toBe(cause);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM copy_data_failed');
    expect(rows).toEqual([{ n: 0 }]);
  });

  it("hands a transaction's COPY to the socket in the call, before the first chunk of its data is made", async () => {
    // Prepare: every socket write that carries this COPY's statement is seen.
    const db = await database();
    await db.exec('CREATE TABLE IF NOT EXISTS copy_sent_early (n int)');
    const socket = socketWritesOf(['COPY copy_sent_early']);

    // Act: as ingest does, the chunks are made when the COPY asks for them.
    let writtenBeforeData = false;
    try {
      await db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await tx.copyFrom(
          'COPY copy_sent_early (n) FROM STDIN',
          (async function* () {
            writtenBeforeData = socket.seen.has('COPY copy_sent_early');
            yield Buffer.from('1\n2\n');
          })(),
        );
      });
    } finally {
      socket.restore();
    }

    // Assess: the handshake was on its way while the data was made, and the rows are in.
    expect(writtenBeforeData).toBe(true);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM copy_sent_early');
    expect(rows).toEqual([{ n: 2 }]);
  });

  it('writes each COPY chunk to the socket before the next chunk is made, once the server takes data', async () => {
    // Prepare: the socket writes that carry each chunk are seen.
    const db = await database();
    await db.exec('CREATE TABLE IF NOT EXISTS copy_streamed (n int)');
    const socket = socketWritesOf(['1001\n', '1002\n']);

    // Act: the first chunk waits in the client until the server's CopyInResponse; from then on the
    // generator looks at the socket each time the COPY asks it for the next chunk.
    let secondBeforeThird = false;
    try {
      await db.transaction((tx) =>
        tx.copyFrom(
          'COPY copy_streamed (n) FROM STDIN',
          (async function* () {
            yield Buffer.from('1001\n');
            await socket.written('1001\n');
            yield Buffer.from('1002\n');
            secondBeforeThird = socket.seen.has('1002\n');
            yield Buffer.from('1003\n');
          })(),
        ),
      );
    } finally {
      socket.restore();
    }

    // Assess
    expect(secondBeforeThird).toBe(true);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM copy_streamed');
    expect(rows).toEqual([{ n: 3 }]);
  });

  it('reports the error that ended a streamed COPY, with its code, while data was still being made, and leaves the connection usable', async () => {
    // Prepare: the first chunk breaks a unique index; the next ones are large enough to fill the socket.
    const db = await database();
    await db.exec('CREATE TABLE IF NOT EXISTS copy_broken_early (n int PRIMARY KEY)');
    const lines = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${from + i}\n`).join('');
    let made = 0;

    // Act
    const copying = db.transaction((tx) =>
      tx.copyFrom(
        'COPY copy_broken_early (n) FROM STDIN',
        (async function* () {
          yield Buffer.from('1\n1\n');
          for (made = 1; made < 40; made++) yield Buffer.from(lines(made * 100_000, 40_000));
        })(),
      ),
    );

    // Assess: the server's unique violation, not a client-side error about the ended COPY.
    await expect(copying).rejects.toMatchObject({ code: '23505' });
    expect(made).toBeGreaterThan(0);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM copy_broken_early');
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('enforces the session limits set as startup parameters, never with SET', async () => {
    // Prepare: see what the client sends through a wire tap.
    const wire = frontendTap();
    const proxy = await startTcpProxy({ targetPort: Number(new URL(pg.url).port), tap: wire.tap });
    opened.push(proxy);
    const url = new URL(pg.url);
    url.port = String(proxy.port);
    const db = await connectDatabase(readEnv({ DATABASE_URL: url.toString(), DB_POOL_MAX: '1', DB_STATEMENT_TIMEOUT_MS: '300' }));
    opened.push(db);

    // Act
    const slow = await db.query('SELECT pg_sleep(2)').then(
      () => 'finished',
      (e: { code?: string }) => e.code,
    );
    const setting = await db.query<{ statement: string; idle: string }>(
      "SELECT current_setting('statement_timeout') AS statement, current_setting('idle_in_transaction_session_timeout') AS idle",
    );

    // Assess
    expect(slow).toBe('57014'); // query_canceled
    expect(setting.rows).toEqual([{ statement: '300ms', idle: `${SESSION_LIMITS.idle_in_transaction_session_timeout / 1000}s` }]);
    const messages = wire.messages();
    const startups = messages.flatMap((m) => (m.kind === 'startup' ? [`${m.parameters.statement_timeout} ${m.parameters.idle_in_transaction_session_timeout}`] : []));
    expect(startups.length).toBeGreaterThan(0);
    expect(new Set(startups)).toEqual(new Set([`300 ${SESSION_LIMITS.idle_in_transaction_session_timeout}`]));
    expect(pinsOfAll(messages).filter((p) => p.reason === 'set')).toEqual([]);
  });

  it('requires TLS before anything else when IAM authentication is configured', async () => {
    // Prepare: the embedded server has no TLS; a client that insists must refuse to go on.
    const wire = frontendTap();
    const proxy = await startTcpProxy({ targetPort: Number(new URL(pg.url).port), tap: wire.tap });
    opened.push(proxy);
    const db = await connectDatabase(readEnv({ DB_HOST: '127.0.0.1', DB_PORT: String(proxy.port), DB_USER: 'tapline', DB_AUTH: 'iam', AWS_REGION: 'us-east-1', DB_POOL_MAX: '1' }));
    opened.push(db);

    // Act
    const outcome = await db.query('SELECT 1').then(
      () => 'connected',
      (e: Error) => e.message,
    );

    // Assess: it asked for TLS first, and never sent a startup message (user, token) in clear text.
    expect(outcome).toMatch(/does not support SSL/i);
    const messages = wire.messages();
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.every((m) => m.kind === 'ssl-request')).toBe(true);
  });
});
