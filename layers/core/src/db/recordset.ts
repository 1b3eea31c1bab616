import { chunkRows, jsonLiteral } from './sqlText.ts';

/** A column of a json_to_recordset row: its short JSON key and its SQL type, as `'<key> <type>'`. */
export type RecordsetColumn = `${string} ${string}`;

/**
 * Rows that travel as one JSON literal through the simple protocol (sqlText.ts), named once per
 * table: SQL sees the columns by their names, the rows carry one- or two-letter keys, since every
 * byte counts against the 16 KB statement limit.
 */
export interface Recordset<C extends string> {
  /** A row as JSON text; an undefined value is left out (NULL in SQL). */
  row(values: { readonly [K in C]?: unknown }): string;
  /** `(SELECT r.<key> AS <column>, ... FROM json_to_recordset(<literal>::json) AS r(<key> <type>, ...))`, for FROM or JOIN. */
  from(literal: string): string;
}

/** `rawJson`: columns whose values are JSON text already, embedded as they are (no second escaping). */
export function recordset<C extends string>(columns: Readonly<Record<C, RecordsetColumn>>, o: { rawJson?: ReadonlyArray<NoInfer<C>> } = {}): Recordset<C> {
  const entries = (Object.entries(columns) as Array<[C, RecordsetColumn]>).map(([name, spec]) => {
    const [key = '', ...type] = spec.split(' ');
    return [name, { key, type: type.join(' '), rawJson: o.rawJson?.includes(name) === true }] as const;
  });
  const select = entries.map(([name, c]) => `r.${c.key} AS ${name}`).join(', ');
  const shape = entries.map(([, c]) => `${c.key} ${c.type}`).join(', ');
  // One JSON.stringify of a short-keyed object per row (native, and what the hand-written rows
  // did); raw JSON values are appended after it.
  const plain = entries.filter(([, c]) => c.rawJson !== true).map(([name, c]) => [name, c.key] as const);
  const raw = entries.filter(([, c]) => c.rawJson === true).map(([name, c]) => [name, c.key] as const);
  return {
    row(values) {
      const o: Record<string, unknown> = {};
      for (const [name, key] of plain) o[key] = values[name];
      let json = JSON.stringify(o);
      for (const [name, key] of raw) {
        const v = values[name];
        if (v !== undefined) json = `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"${key}":${String(v)}}`;
      }
      return json;
    },
    from: (literal) => `(SELECT ${select} FROM json_to_recordset(${literal}::json) AS r(${shape}))`,
  };
}

const ROWS = '\u0000rows\u0000';

/**
 * The statements that carry these rows, each under the statement limit: `template` gets the rows'
 * literal and returns the whole statement (it is called once, to measure the text around them).
 */
export function rowStatements(rowJson: readonly string[], template: (literal: string) => string): string[] {
  const [head, tail] = template(ROWS).split(ROWS) as [string, string];
  return chunkRows(rowJson, Buffer.byteLength(head) + Buffer.byteLength(tail)).map((chunk) => head + jsonLiteral(chunk) + tail);
}
