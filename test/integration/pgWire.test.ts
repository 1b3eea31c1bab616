import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type LocalPostgres } from '../../local/services/postgres.ts';
import { FrontendDecoder, frontendTap, PIN_BYTES, pinsOfAll, summarizeWire, type PinReason } from '../helpers/pgWire.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.ts';

// The classifier on the bytes a real node-postgres client sends to the embedded PostgreSQL,
// captured by the same TCP proxy and tap the pinning tests and the bench use.
let server: LocalPostgres;
let proxy: TcpProxy;
let client: pg.Client;
const wire = frontendTap();
const raw: Buffer[] = [];

beforeAll(async () => {
  server = await startPostgres();
  const target = new URL(server.url);
  proxy = await startTcpProxy({
    targetPort: Number(target.port),
    tap: (id, chunk) => {
      raw.push(Buffer.from(chunk));
      wire.tap(id, chunk);
    },
  });
  target.port = String(proxy.port);
  client = new pg.Client({ connectionString: target.href });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await proxy?.stop();
  await server?.stop();
});

/** Runs one step on the real connection and returns what the classifier says of its bytes. */
async function pinsOfStep(step: () => Promise<unknown>): Promise<PinReason[]> {
  wire.reset();
  await step();
  return pinsOfAll(wire.messages()).map((p) => p.reason);
}

describe('pinning classifier on a real client session', () => {
  it('tells each statement that pins from the simple-protocol ones that do not', async () => {
    // Act and assess, step by step on one connection (a session, as RDS Proxy sees it).
    expect(await pinsOfStep(() => client.query('SELECT 1'))).toEqual([]);
    expect(await pinsOfStep(() => client.query(`SELECT 'a;SET b' AS "SET"; SELECT $$LISTEN x$$`))).toEqual([]);
    expect(await pinsOfStep(() => client.query('SELECT $1::int AS n', [1]))).toEqual(['extended-protocol', 'extended-protocol']);
    // A named statement is parsed once per connection; its second run is Bind/Execute only.
    await pinsOfStep(() => client.query({ name: 'named', text: 'SELECT 2 AS n' }));
    expect(await pinsOfStep(() => client.query({ name: 'named', text: 'SELECT 2 AS n' }))).toEqual(['extended-protocol']);
    expect(await pinsOfStep(() => client.query("SELECT 1; SET application_name = 'x'"))).toEqual(['set']);
    expect(await pinsOfStep(() => client.query("SELECT set_config('application_name', 'y', false)"))).toEqual(['set']);
    expect(await pinsOfStep(() => client.query('PREPARE p AS SELECT 1; EXECUTE p'))).toEqual(['prepare', 'prepare']);
    expect(await pinsOfStep(() => client.query('LISTEN tapline'))).toEqual(['listen']);
    expect(await pinsOfStep(() => client.query('SELECT pg_advisory_lock(7); SELECT pg_advisory_unlock(7)'))).toEqual(['advisory-lock']);
    expect(await pinsOfStep(() => client.query('CREATE TEMP TABLE scratch (a int)'))).toEqual(['temp-table']);
    expect(await pinsOfStep(() => client.query('BEGIN; DECLARE c CURSOR FOR SELECT 1; COMMIT'))).toEqual(['cursor']);
    const big = `SELECT length('${'x'.repeat(PIN_BYTES)}') AS n`;
    const { rows } = await client.query<{ n: number }>(big);
    expect(rows).toEqual([{ n: PIN_BYTES }]);
    expect(await pinsOfStep(() => client.query(big))).toEqual(['oversized']);
  });

  it('decodes the captured stream the same however TCP splits it', () => {
    // Prepare: everything the client sent, startup included, cut at odd places.
    const stream = Buffer.concat(raw);
    const whole = new FrontendDecoder();
    whole.push(stream);
    const split = new FrontendDecoder();
    for (let i = 0; i < stream.length; i += 7) split.push(stream.subarray(i, i + 7));

    // Assess
    expect(split.messages).toEqual(whole.messages);
    expect(whole.messages[0]).toMatchObject({ kind: 'startup', parameters: { user: expect.any(String) } });
    const summary = summarizeWire(whole.messages);
    expect(summary.parses).toBeGreaterThanOrEqual(2);
    expect(summary.maxQueryBytes).toBeGreaterThan(PIN_BYTES);
  });
});
