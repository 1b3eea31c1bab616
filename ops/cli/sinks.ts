import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import type { SchemaElement } from 'hyparquet';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { ExportColumn, ExportRow, ExportValue } from '#core/warehouse/export';
import { UsageError } from '../../local/cli/run.ts';

/**
 * Export files. Each sink writes to `<out>.partial` and renames on close, so a failed export never
 * leaves a truncated file under the requested name. Memory stays bounded by one chunk of rows.
 */
export interface RowSink {
  write(rows: ExportRow[]): Promise<void>;
  close(): Promise<void>;
  /** Removes the partial file after a failure. */
  abort(): Promise<void>;
}

export type ExportFormat = 'csv' | 'parquet';

export function formatOf(path: string): ExportFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet') return 'parquet';
  throw new UsageError(`--out must end in .csv or .parquet, got "${path}"`);
}

export async function openSink(path: string, columns: ExportColumn[]): Promise<RowSink> {
  const format = formatOf(path);
  const partial = `${path}.partial`;
  const file = await open(partial, 'w');
  const inner = format === 'csv' ? await csvSink(file, columns) : parquetSink(file, columns);
  return {
    write: (rows) => inner.write(rows),
    async close() {
      await inner.close();
      await file.close();
      await rename(partial, path);
    },
    async abort() {
      await file.close().catch(() => undefined); // already closed or broken: removal below is what matters
      await rm(partial, { force: true });
    },
  };
}

interface InnerSink {
  write(rows: ExportRow[]): Promise<void>;
  close(): Promise<void>;
}

// RFC 4180, as PostgreSQL's COPY ... CSV reads it back: an unquoted empty field is NULL and a
// quoted empty field "" is the empty string.
function csvField(v: ExportValue): string {
  if (v === null) return '';
  if (typeof v !== 'string') return String(v);
  return v === '' || /[",\r\n]/.test(v) || v.trim() !== v ? `"${v.replaceAll('"', '""')}"` : v;
}

async function csvSink(file: FileHandle, columns: ExportColumn[]): Promise<InnerSink> {
  await file.write(`${columns.map((c) => c.name).join(',')}\n`);
  return {
    async write(rows) {
      let text = '';
      for (const row of rows) text += `${columns.map((c) => csvField(row[c.name] ?? null)).join(',')}\n`;
      await file.write(text);
    },
    async close() {},
  };
}

/** ByteWriter that hands its bytes to the file after each row group instead of growing in memory. */
class FileByteWriter extends ByteWriter {
  constructor(private readonly file: FileHandle) {
    super(1 << 20);
  }

  async flush(): Promise<void> {
    if (this.index === 0) return;
    await this.file.write(new Uint8Array(this.buffer, 0, this.index));
    this.index = 0;
  }

  // ParquetWriter awaits the promise finish() returns (its Writer type says so); ByteWriter's own type says void.
  // eslint-disable-next-line @typescript-eslint/no-misused-promises
  override finish(): Promise<void> {
    return this.flush();
  }
}

const PARQUET_TYPE: Record<ExportColumn['kind'], Omit<SchemaElement, 'name' | 'repetition_type'>> = {
  timestamp: { type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
  text: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  double: { type: 'DOUBLE' },
  int: { type: 'INT64' },
  bool: { type: 'BOOLEAN' },
};

/** "2026-11-22T20:18:58.263460Z" -> microseconds since the epoch, without Date's millisecond cut. */
export function isoToMicros(iso: string): bigint {
  const ms = Date.parse(`${iso.slice(0, 23)}Z`);
  if (Number.isNaN(ms) || iso.length !== 27) throw new Error(`not an export timestamp: ${iso}`);
  return BigInt(ms) * 1000n + BigInt(iso.slice(23, 26));
}

const toParquet = (kind: ExportColumn['kind'], v: ExportValue): unknown => {
  if (v === null) return null;
  if (kind === 'timestamp') return isoToMicros(String(v));
  if (kind === 'int') return BigInt(v);
  return v;
};

/**
 * hyparquet-writer's ParquetWriter takes one write() per chunk and makes it a row group, calling
 * the writer's flush() after each: with FileByteWriter every row group goes to disk as it is done,
 * so the file can be any size. The footer (schema, row-group index) is written by finish().
 */
function parquetSink(file: FileHandle, columns: ExportColumn[]): InnerSink {
  const schema: SchemaElement[] = [
    { name: 'root', num_children: columns.length },
    ...columns.map((c) => ({ name: c.name, repetition_type: c.nullable ? ('OPTIONAL' as const) : ('REQUIRED' as const), ...PARQUET_TYPE[c.kind] })),
  ];
  const writer = new ParquetWriter({ writer: new FileByteWriter(file), schema, createdBy: 'tapline export' });
  return {
    async write(rows) {
      const columnData = columns.map((c) => ({ name: c.name, data: rows.map((r) => toParquet(c.kind, r[c.name] ?? null)) }));
      await writer.write({ columnData, rowGroupSize: rows.length });
    },
    async close() {
      await writer.finish();
    },
  };
}
