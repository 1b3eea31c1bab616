import type { SqlDatabase } from '../db/session.ts';
import { GRAIN_TABLE, GRAIN_TIME, type Grain } from './grains.ts';

/**
 * Streams one grain of the warehouse in constant memory: a server-side cursor (DECLARE ... FETCH n)
 * inside one read-only transaction, handing each chunk to `onChunk` and waiting for it before
 * fetching the next, so a slow file never makes rows pile up in memory. Works the same on
 * node-postgres and PGlite. A cursor pins an RDS Proxy connection for the export's duration: this
 * is an operator command, never the ingest path.
 */

export type ColumnKind = 'timestamp' | 'text' | 'double' | 'int' | 'bool';

export interface ExportColumn {
  name: string;
  kind: ColumnKind;
  nullable: boolean;
}

/** Timestamps come out as ISO 8601 UTC text with microseconds, whatever the session time zone. */
export type ExportValue = string | number | boolean | null;
export type ExportRow = Record<string, ExportValue>;

export interface ExportQuery {
  grain: Grain;
  /** Rows whose time (ts, or bucket start) is within this many hours before `now`. */
  sinceHours: number;
  sources?: readonly string[];
  facts?: readonly string[];
  now?: Date;
}

export class ExportError extends Error {
  override readonly name = 'ExportError';
}

const RAW_COLUMNS: ExportColumn[] = [
  { name: 'ts', kind: 'timestamp', nullable: false },
  { name: 'source', kind: 'text', nullable: false },
  { name: 'fact_name', kind: 'text', nullable: false },
  { name: 'value_float', kind: 'double', nullable: true },
  { name: 'value_bool', kind: 'bool', nullable: true },
  { name: 'value_str', kind: 'text', nullable: true },
  { name: 'sample_count', kind: 'int', nullable: false },
  { name: 'numeric_count', kind: 'int', nullable: true },
  { name: 'value_min', kind: 'double', nullable: true },
  { name: 'value_max', kind: 'double', nullable: true },
  { name: 'value_avg', kind: 'double', nullable: true },
];

const AGGREGATE_COLUMNS: ExportColumn[] = [
  { name: 'bucket', kind: 'timestamp', nullable: false },
  { name: 'source', kind: 'text', nullable: false },
  { name: 'fact_name', kind: 'text', nullable: false },
  { name: 'sample_count', kind: 'int', nullable: false },
  { name: 'numeric_count', kind: 'int', nullable: true },
  { name: 'value_avg', kind: 'double', nullable: true },
  { name: 'value_min', kind: 'double', nullable: true },
  { name: 'value_max', kind: 'double', nullable: true },
  { name: 'value_sum', kind: 'double', nullable: true },
  { name: 'last_value', kind: 'double', nullable: true },
  { name: 'last_str', kind: 'text', nullable: true },
  { name: 'last_ts', kind: 'timestamp', nullable: true },
  /** Counter facts only: the reset-aware rise over the bucket (migration 0010's BI views). */
  { name: 'increase', kind: 'double', nullable: true },
];

/** Aggregates come from the BI views: the grain's columns plus a counter's `increase`, on both engines. */
const EXPORT_SOURCE: Record<Grain, string> = { raw: GRAIN_TABLE.raw, '1min': 'fact_telemetry_1min', '1h': 'fact_telemetry_1h', '1day': 'fact_telemetry_1day' };

export const exportColumns = (grain: Grain): ExportColumn[] => (grain === 'raw' ? RAW_COLUMNS : AGGREGATE_COLUMNS);

const ISO_UTC = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

function selectSql(q: ExportQuery): { where: string; params: unknown[]; table: string; time: string } {
  if (!Number.isFinite(q.sinceHours) || q.sinceHours <= 0) throw new ExportError(`--since-hours must be a positive number, got ${q.sinceHours}`);
  const now = q.now ?? new Date();
  const since = new Date(now.getTime() - q.sinceHours * 3_600_000).toISOString();
  const time = GRAIN_TIME[q.grain];
  return {
    table: EXPORT_SOURCE[q.grain],
    time,
    where: `${time} >= $1::timestamptz
      AND ($2::text[] IS NULL OR source = ANY ($2::text[]))
      AND ($3::text[] IS NULL OR fact_name = ANY ($3::text[]))`,
    params: [since, q.sources?.length ? [...q.sources] : null, q.facts?.length ? [...q.facts] : null],
  };
}

/** How many rows the export will write (for progress); one extra scan, cheap next to the export. */
export async function countExportRows(db: SqlDatabase, q: ExportQuery): Promise<number> {
  const s = selectSql(q);
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${s.table} WHERE ${s.where}`, s.params);
  return rows[0]?.n ?? 0;
}

export async function streamExport(db: SqlDatabase, q: ExportQuery, onChunk: (rows: ExportRow[]) => Promise<void>, opts: { chunkRows?: number } = {}): Promise<number> {
  const chunkRows = opts.chunkRows ?? 10_000;
  const s = selectSql(q);
  const columns = exportColumns(q.grain).map((c) => (c.kind === 'timestamp' ? `to_char(${c.name} AT TIME ZONE 'UTC', ${ISO_UTC}) AS ${c.name}` : c.name));
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION READ ONLY');
    // Ordered by time so the index (or the hypertable's ChunkAppend) streams rows without a sort.
    await tx.query(
      `DECLARE tapline_export NO SCROLL CURSOR FOR
       SELECT ${columns.join(', ')} FROM ${s.table} WHERE ${s.where} ORDER BY ${s.time}`,
      s.params,
    );
    let total = 0;
    for (;;) {
      const { rows } = await tx.query<ExportRow>(`FETCH FORWARD ${chunkRows} FROM tapline_export`);
      if (rows.length === 0) break;
      await onChunk(rows);
      total += rows.length;
      if (rows.length < chunkRows) break;
    }
    await tx.query('CLOSE tapline_export');
    return total;
  });
}
