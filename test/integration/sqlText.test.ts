import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLiteral } from '#core/db/sqlText';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';

let pg: MigratedPostgres;
beforeAll(async () => {
  pg = await startMigratedPostgres();
});
afterAll(async () => pg?.stop());

describe('JSON literals in statement text', () => {
  it('read back from PostgreSQL as the very strings they were built from', async () => {
    // Text PostgreSQL stores: no NUL, no lone surrogate (the contract refuses both before SQL).
    const storable = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(fc.array(storable, { minLength: 1, maxLength: 8 }), async (strings) => {
        const literal = jsonLiteral(strings.map((s) => JSON.stringify(s)));
        const { rows } = await pg.db.query<{ s: string }>(`SELECT value AS s FROM json_array_elements_text(${literal}::json) WITH ORDINALITY ORDER BY ordinality`);
        expect(rows.map((r) => r.s)).toEqual(strings);
      }),
      { numRuns: 200 },
    );
  });
});
