import { resolve } from 'node:path';
import { countExportRows, exportColumns, streamExport, type ExportQuery } from '#core/warehouse/export';
import { GRAINS } from '#core/warehouse/grains';
import { openCliDatabase } from '../../local/cli/database.ts';
import { progressBar } from '../cli/progress.ts';
import { listFlag, oneOf, positiveNumber, runCommand, UsageError } from '../../local/cli/run.ts';
import { formatOf, openSink } from '../cli/sinks.ts';

const USAGE = `npm run export -- --out FILE.csv|FILE.parquet [--since-hours 168] [--grain raw|1min|1h|1day]
                   [--source FBE_01[,FBE_02]] [--fact temperature_c[,ph]] [--data-dir DIR]
Exports one grain (default raw) of the last --since-hours hours, streamed through a server-side
cursor in chunks (constant memory), with progress on stderr. Parquet: one row group per chunk,
timestamps as TIMESTAMP(MICROS, UTC). Database: as for npm run verify.`;

runCommand(
  {
    usage: USAGE,
    options: {
      out: { type: 'string' },
      'since-hours': { type: 'string' },
      grain: { type: 'string', default: 'raw' },
      source: { type: 'string', multiple: true },
      fact: { type: 'string', multiple: true },
      'chunk-rows': { type: 'string' },
      'data-dir': { type: 'string' },
    },
  },
  async ({ values: flags }) => {
    if (!flags.out) throw new UsageError('--out is required');
    const out = resolve(flags.out);
    formatOf(out);
    const query: ExportQuery = {
      grain: oneOf('grain', flags.grain, GRAINS),
      sinceHours: positiveNumber('since-hours', flags['since-hours'], 168),
      sources: listFlag(flags.source),
      facts: listFlag(flags.fact),
    };
    const chunkRows = Math.floor(positiveNumber('chunk-rows', flags['chunk-rows'], 10_000));

    const cli = await openCliDatabase(flags['data-dir'], 'npm run export');
    try {
      const total = await countExportRows(cli.db, query);
      const progress = progressBar(`export ${query.grain}`, total);
      const sink = await openSink(out, exportColumns(query.grain));
      let written = 0;
      try {
        written = await streamExport(
          cli.db,
          query,
          async (rows) => {
            await sink.write(rows);
            written += rows.length;
            progress.update(written);
          },
          { chunkRows },
        );
        await sink.close();
      } catch (e) {
        await sink.abort();
        throw new Error(`export to ${out} failed after ${written} rows: ${(e as Error).message}`, { cause: e });
      }
      progress.finish(written);
      console.error(`wrote ${written.toLocaleString('en-US')} ${query.grain} rows to ${out}`);
      return 0;
    } finally {
      await cli.close();
    }
  },
);
