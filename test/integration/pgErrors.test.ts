import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAuthenticationError, isConnectionError, isRetryableTransactionError } from '#core/db/pgErrors';
import { freePort } from '../../local/services/ports.ts';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';

// The classification table (test/unit/pgErrors.test.ts) holds codes; this proves that real failures
// of a real server and of Node's sockets carry those codes where the classifier looks.
let server: MigratedPostgres;
const open: pg.Client[] = [];

beforeAll(async () => {
  server = await startMigratedPostgres();
  await server.db.exec(`CREATE TABLE err_probe (id int PRIMARY KEY, v int);
    INSERT INTO err_probe VALUES (1, 0), (2, 0);
    CREATE ROLE err_single LOGIN PASSWORD 'single' CONNECTION LIMIT 1;
    GRANT ALL ON err_probe TO err_single;`);
});
afterAll(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  await server?.stop();
});

async function client(overrides: pg.ClientConfig = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url, ...overrides });
  c.on('error', () => undefined);
  open.push(c);
  await c.connect();
  return c;
}
/** The server's URL as another user (a connection string wins over separate user/password options). */
const urlAs = (user: string, password: string): string => {
  const url = new URL(server.url);
  url.username = user;
  url.password = password;
  return url.toString();
};
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => new Error('did not fail'),
    (e: unknown) => e,
  );
const pidOf = async (c: pg.Client): Promise<number> => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;

/** Polls the server until `pid` is in the state asked for: waits on events, not on a clock. */
async function until(pid: number, state: 'waiting on a lock' | 'gone'): Promise<void> {
  for (;;) {
    const { rows } = await server.db.query<{ wait: string | null }>('SELECT wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1', [pid]);
    if (state === 'gone' ? rows.length === 0 : rows[0]?.wait === 'Lock') return;
    await new Promise((ok) => setImmediate(ok));
  }
}

describe('real database errors, classified', () => {
  it('retries a refused connection (ECONNREFUSED) and an unknown host (ENOTFOUND, or EAI_AGAIN without DNS)', async () => {
    const refused = await failure(new pg.Client({ host: '127.0.0.1', port: await freePort(), user: 'x' }).connect());
    const unknown = await failure(new pg.Client({ host: 'tapline-no-such-host.invalid', user: 'x' }).connect());
    expect((refused as { code: string }).code).toBe('ECONNREFUSED');
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain((unknown as { code: string }).code);
    expect(isConnectionError(refused)).toBe(true);
    expect(isConnectionError(unknown)).toBe(true);
  });

  it('retries a session the server ended (57P01) and a full connection slot table (53300)', async () => {
    // Prepare
    const victim = await client();
    const pid = await pidOf(victim);
    const single = await client({ connectionString: urlAs('err_single', 'single') });

    // Act
    const [terminated] = await Promise.all([failure(victim.query('SELECT pg_sleep(30)')), server.db.query('SELECT pg_terminate_backend($1)', [pid])]);
    const full = await failure(new pg.Client({ connectionString: urlAs('err_single', 'single') }).connect());

    // Assess
    expect(single).toBeDefined();
    expect((full as { code: string }).code).toBe('53300');
    expect(isConnectionError(terminated)).toBe(true);
    expect(isConnectionError(full)).toBe(true);
  });

  it('retries a session ended for idling in a transaction (25P03): the transaction was rolled back', async () => {
    // Prepare
    const idler = await client({ idle_in_transaction_session_timeout: 100 });
    const ended = new Promise<unknown>((ok) => idler.once('error', ok));
    const pid = await pidOf(idler);

    // Act
    await idler.query('BEGIN');
    await until(pid, 'gone');

    // Assess
    const error = await ended;
    expect((error as { code: string }).code).toBe('25P03');
    expect(isConnectionError(error)).toBe(true);
    expect(isConnectionError(await failure(idler.query('SELECT 1')))).toBe(true);
  });

  it('does not retry wrong credentials (28P01), a missing database (3D000) or a statement timeout (57014)', async () => {
    const wrongPassword = await failure(new pg.Client({ connectionString: urlAs('tapline', 'wrong') }).connect());
    const url = new URL(server.url);
    url.pathname = '/no_such_database';
    const noDatabase = await failure(new pg.Client({ connectionString: url.toString() }).connect());
    const timedOut = await failure((await client({ statement_timeout: 50 })).query('SELECT pg_sleep(5)'));

    expect([wrongPassword, noDatabase, timedOut].map((e) => (e as { code: string }).code)).toEqual(['28P01', '3D000', '57014']);
    for (const e of [wrongPassword, noDatabase, timedOut]) {
      expect(isConnectionError(e)).toBe(false);
      expect(isRetryableTransactionError(e)).toBe(false);
    }
    expect(isAuthenticationError(wrongPassword)).toBe(true);
  });

  it('classifies a deadlock (40P01) and a serialization failure (40001) as retryable transactions', async () => {
    // Prepare: two transactions that lock the same two rows in opposite order.
    const a = await client();
    const b = await client();
    const aPid = await pidOf(a);
    await a.query('BEGIN; UPDATE err_probe SET v = v + 1 WHERE id = 1');
    await b.query('BEGIN; UPDATE err_probe SET v = v + 1 WHERE id = 2');
    const aWaits = a.query('UPDATE err_probe SET v = v + 1 WHERE id = 2').then(
      () => undefined,
      (e: unknown) => e,
    );
    await until(aPid, 'waiting on a lock');

    // Act
    // The server breaks the cycle by failing one of the two; the other goes on.
    const bResult = await b.query('UPDATE err_probe SET v = v + 1 WHERE id = 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    const deadlock = bResult ?? (await aWaits);
    await a.query('ROLLBACK');
    await b.query('ROLLBACK');

    // Prepare + Act: a REPEATABLE READ transaction updating a row another one changed since its snapshot.
    const reader = await client();
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT v FROM err_probe WHERE id = 1');
    await server.db.query('UPDATE err_probe SET v = v + 10 WHERE id = 1');
    const serialization = await failure(reader.query('UPDATE err_probe SET v = v + 1 WHERE id = 1'));
    await reader.query('ROLLBACK');

    // Assess
    expect((deadlock as { code: string }).code).toBe('40P01');
    expect((serialization as { code: string }).code).toBe('40001');
    for (const e of [deadlock, serialization]) {
      expect(isRetryableTransactionError(e)).toBe(true);
      expect(isConnectionError(e)).toBe(false);
    }
  });
});
