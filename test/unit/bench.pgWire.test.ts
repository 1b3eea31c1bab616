import { describe, expect, it } from 'vitest';
import { FrontendMessageCounter } from '../../bench/lib/pgWire.ts';

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

describe('frontend message counter (RDS Proxy check)', () => {
  it('counts simple queries and the longest statement in bytes, after the untyped startup message', () => {
    // Prepare
    const counter = new FrontendMessageCounter();
    const long = `SELECT '${'é'.repeat(100)}'`;

    // Act
    counter.push(Buffer.concat([startup(), query('BEGIN'), query(long), query('COMMIT')]));

    // Assess
    expect(counter.counts.queries).toBe(3);
    expect(counter.counts.byType).toEqual({ Q: 3 });
    expect(counter.counts.maxQueryBytes).toBe(Buffer.byteLength(long));
    expect(counter.counts.pinning).toEqual([]);
  });

  it('sees the extended protocol of a parameterised query as Parse/Bind/Execute, even split across TCP chunks', () => {
    // Prepare
    const counter = new FrontendMessageCounter();
    const stream = Buffer.concat([
      sslRequest(),
      startup(),
      typed('P', Buffer.from('\0INSERT INTO t VALUES ($1)\0\0\0')),
      typed('B', Buffer.from('\0\0\0\0\0\0\0\0')),
      typed('E', Buffer.from('\0\0\0\0\0')),
      typed('S', Buffer.alloc(0)),
    ]);

    // Act: one byte at a time, as the worst TCP segmentation would deliver it
    for (let i = 0; i < stream.length; i++) counter.push(stream.subarray(i, i + 1));

    // Assess
    expect(counter.counts.byType).toEqual({ P: 1, B: 1, E: 1, S: 1 });
    expect(counter.counts.queries).toBe(0);
  });

  it('flags statements that pin an RDS Proxy connection', () => {
    // Prepare
    const counter = new FrontendMessageCounter();

    // Act
    counter.push(Buffer.concat([startup(), query('SET statement_timeout = 5'), query('CREATE TEMP TABLE x (a int)'), query('SELECT pg_advisory_lock(1)'), query('SELECT 1')]));

    // Assess
    expect(counter.counts.pinning).toHaveLength(3);
    expect(counter.counts.pinning[0]).toContain('SET statement_timeout');
  });
});
