import { describe, expect, it } from 'vitest';
import { FrontendDecoder, PIN_BYTES, pinsOf, pinsOfAll, splitStatements, summarizeWire } from '../helpers/pgWire.ts';

// Hand-built frames for what a client rarely sends on its own (test/integration/pgWire.test.ts
// classifies the bytes a real node-postgres client sends).
const startup = (): Buffer => {
  const body = Buffer.from('user\0tapline\0database\0tapline\0\0');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196_608, 4); // protocol 3.0
  return Buffer.concat([head, body]);
};
const sslRequest = (): Buffer => {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(80_877_103, 4);
  return b;
};
const typed = (type: string, body: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
};
const query = (sql: string) => typed('Q', Buffer.from(`${sql}\0`));
const decode = (...chunks: Buffer[]) => {
  const d = new FrontendDecoder();
  for (const c of chunks) d.push(c);
  return d.messages;
};
const reasons = (sql: string) => pinsOf({ kind: 'query', text: sql, bytes: Buffer.byteLength(sql) }).map((p) => p.reason);

describe('frontend decoder', () => {
  it('reads the untyped SSL request and startup, then typed messages split one byte at a time', () => {
    // Prepare
    const stream = Buffer.concat([sslRequest(), startup(), query(`SELECT '${'é'.repeat(100)}'`), typed('X', Buffer.alloc(0))]);

    // Act
    const d = new FrontendDecoder();
    for (let i = 0; i < stream.length; i++) d.push(stream.subarray(i, i + 1));

    // Assess
    expect(d.messages).toEqual([
      { kind: 'ssl-request' },
      { kind: 'startup', parameters: { user: 'tapline', database: 'tapline' } },
      { kind: 'query', text: `SELECT '${'é'.repeat(100)}'`, bytes: 9 + 200 },
      { kind: 'other', type: 'X' },
    ]);
  });
});

describe('pinning classifier', () => {
  it('flags each statement kind that pins, wherever it stands in a multi-statement message', () => {
    expect(reasons('SET statement_timeout = 5')).toEqual(['set']);
    expect(reasons("SELECT 1;\n  set search_path = public; SELECT set_config('a.b', 'c', false)")).toEqual(['set', 'set']);
    expect(reasons('RESET ALL; DISCARD ALL')).toEqual(['set', 'set']);
    expect(reasons('PREPARE p AS SELECT 1; EXECUTE p; DEALLOCATE p')).toEqual(['prepare', 'prepare', 'prepare']);
    expect(reasons('LISTEN ch')).toEqual(['listen']);
    expect(reasons('BEGIN; DECLARE c CURSOR FOR SELECT 1')).toEqual(['cursor']);
    expect(reasons('CREATE TEMP TABLE x (a int); CREATE LOCAL TEMPORARY TABLE y (a int); SELECT 1 INTO TEMP z')).toEqual(['temp-table', 'temp-table', 'temp-table']);
    expect(reasons('SELECT pg_advisory_lock(1); SELECT pg_try_advisory_xact_lock_shared(2)')).toEqual(['advisory-lock', 'advisory-lock']);
  });

  it('does not take data, identifiers or comments for SQL', () => {
    // The hot path's rows travel as JSON literals: a reading's text may say anything.
    const data = `INSERT INTO t SELECT * FROM json_to_recordset('[{"v":"x''; SET a = 1; SELECT pg_advisory_lock(1)"}]'::json) AS r(v text)`;
    expect(reasons(data)).toEqual([]);
    expect(reasons(String.raw`SELECT E'\'; SET a = 1'`)).toEqual([]);
    expect(reasons('SELECT $tag$; LISTEN x$tag$, "SET"; -- SET a = 1\n/* ; PREPARE p */ SELECT 1')).toEqual([]);
    expect(reasons('UPDATE outbox SET sent_at = now(); SELECT 1 AS "set"')).toEqual([]);
    expect(splitStatements("SELECT ';'; SELECT 2;").map((s) => s.text)).toEqual(["SELECT ';'", 'SELECT 2']);
  });

  it('flags a statement over 16 KB and the extended protocol, not one at the limit', () => {
    // Prepare
    const atLimit = `SELECT '${'x'.repeat(PIN_BYTES - 9)}'`;
    const over = `SELECT '${'x'.repeat(PIN_BYTES - 8)}'`;
    const messages = decode(
      startup(),
      query(atLimit),
      query(over),
      typed('P', Buffer.from('\0INSERT INTO t VALUES ($1)\0\0\0')),
      typed('B', Buffer.from('\0\0\0\0\0\0\0\0')),
      typed('E', Buffer.from('\0\0\0\0\0')),
      typed('S', Buffer.alloc(0)),
    );

    // Act
    const summary = summarizeWire(messages);

    // Assess
    expect(Buffer.byteLength(atLimit)).toBe(PIN_BYTES);
    expect(summary.pins.map((p) => p.reason)).toEqual(['oversized', 'extended-protocol', 'extended-protocol']);
    expect(summary.pins[1]?.statement).toBe('INSERT INTO t VALUES ($1)');
    expect(summary).toMatchObject({ byType: { Q: 2, P: 1, B: 1, E: 1, S: 1 }, queries: 2, parses: 1, maxQueryBytes: PIN_BYTES + 1 });
    expect(pinsOfAll(decode(startup(), query('BEGIN'), query('COMMIT')))).toEqual([]);
  });
});
