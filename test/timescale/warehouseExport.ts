import { readFile } from 'node:fs/promises';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { SqlDatabase } from '#core/db/session';
import { exportColumns, streamExport, type ExportQuery, type ExportRow } from '#core/warehouse/export';
import { openSink } from '../../ops/cli/sinks.ts';
import { microsToIso } from './warehouseFixtures.ts';

/** Exports through the same sink the CLI uses, keeping a copy of every row handed to the file. */
export async function exportToFile(db: SqlDatabase, query: ExportQuery, path: string, chunkRows: number): Promise<ExportRow[]> {
  const exported: ExportRow[] = [];
  const sink = await openSink(path, exportColumns(query.grain));
  await streamExport(
    db,
    query,
    async (rows) => {
      exported.push(...rows);
      await sink.write(rows);
    },
    { chunkRows },
  );
  await sink.close();
  return exported;
}

/** Reads a Parquet export back with hyparquet, as export rows (ISO timestamps, numbers). */
export async function readParquet(path: string): Promise<{ rows: ExportRow[]; rowGroups: number }> {
  const file = await asyncBufferFromFile(path);
  const meta = await parquetMetadataAsync(file);
  const objects = await parquetReadObjects({ file, parsers: { timestampFromMicroseconds: (us: bigint) => microsToIso(us) } });
  const rows = objects.map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : (v as ExportRow[string])])));
  return { rows, rowGroups: meta.row_groups.length };
}

export const readText = (path: string): Promise<string> => readFile(path, 'utf8');
