import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { chunkRows, jsonLiteral, MAX_STATEMENT_BYTES, packStatements } from '#core/db/sqlText';

describe('statement chunking for RDS Proxy', () => {
  it('keeps every statement under the 16 KB pinning threshold', () => {
    const rows = Array.from({ length: 2_000 }, (_, i) => JSON.stringify({ s: `FBE_${i}`, x: "it's a \\ test ✓" }));
    const template = 600;
    const chunks = chunkRows(rows, template);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(Buffer.byteLength(jsonLiteral(chunk)) + template).toBeLessThanOrEqual(MAX_STATEMENT_BYTES);
    expect(chunks.flat()).toEqual(rows);
  });

  it('escapes exactly as node-postgres escapeLiteral does, for any string', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { maxLength: 8 }), (strings) => {
        const rows = strings.map((s) => JSON.stringify(s));
        expect(jsonLiteral(rows)).toBe(pg.Client.prototype.escapeLiteral(`[${rows.join(',')}]`));
      }),
      { numRuns: 2_000 },
    );
  });

  it('packs statements into messages under the threshold, in order, a too-large one alone', () => {
    const small = Array.from({ length: 40 }, (_, i) => `SELECT ${i}, '${'x'.repeat(1_000)}'`);
    const huge = `SELECT '${'y'.repeat(20_000)}'`;
    const messages = packStatements([...small.slice(0, 20), huge, ...small.slice(20)]);
    expect(messages.flat()).toEqual([...small.slice(0, 20), huge, ...small.slice(20)]);
    expect(messages.find((m) => m.includes(huge))).toEqual([huge]);
    for (const m of messages.filter((m) => !m.includes(huge))) {
      expect(Buffer.byteLength(m.join(';\n'))).toBeLessThanOrEqual(MAX_STATEMENT_BYTES);
    }
    expect(messages.length).toBeLessThan(10);
  });
});
