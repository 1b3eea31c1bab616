import { describe, expect, it } from 'vitest';
import { recordset, rowStatements } from '#core/db/recordset';
import { MAX_STATEMENT_BYTES } from '#core/db/sqlText';

const OUTBOX = recordset({ destination: 'd text', message_id: 'i text', body: 'b json' }, { rawJson: ['body'] });

describe('json_to_recordset column maps', () => {
  it('writes rows with the short keys, embeds raw JSON as it is, and leaves undefined values out', () => {
    expect(OUTBOX.row({ destination: 'events', message_id: 'a"b', body: '{"x":[1]}' })).toBe('{"d":"events","i":"a\\"b","b":{"x":[1]}}');
    expect(JSON.parse(OUTBOX.row({ destination: 'events', message_id: 'm' }))).toEqual({ d: 'events', i: 'm' });
    expect(OUTBOX.row({})).toBe('{}');
  });

  it('names the columns for SQL and types them for json_to_recordset from the one map', () => {
    expect(OUTBOX.from("'[]'")).toBe("(SELECT r.d AS destination, r.i AS message_id, r.b AS body FROM json_to_recordset('[]'::json) AS r(d text, i text, b json))");
  });

  it('splits rows into statements that each stay under the limit, template included', () => {
    // Prepare: about 60 KB of rows
    const rows = Array.from({ length: 600 }, (_, i) => OUTBOX.row({ destination: 'events', message_id: `m-${i}`, body: JSON.stringify({ pad: 'x'.repeat(80) }) }));

    // Act
    const statements = rowStatements(rows, (literal) => `SELECT count(*) FROM ${OUTBOX.from(literal)} m`);

    // Assess
    expect(statements.length).toBeGreaterThan(3);
    for (const s of statements) expect(Buffer.byteLength(s)).toBeLessThanOrEqual(MAX_STATEMENT_BYTES);
    const carried = statements.flatMap((s) => JSON.parse(/json_to_recordset\('(.*)'::json\)/s.exec(s)![1]!.replaceAll("''", "'")) as unknown[]);
    expect(carried).toEqual(rows.map((r) => JSON.parse(r) as unknown));
  });
});
