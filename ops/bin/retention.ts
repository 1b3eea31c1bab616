import { installedEngine } from '#core/warehouse/grains';
import { setRetention } from '#core/warehouse/retention';
import { openCliDatabase } from '../../local/cli/database.ts';
import { integer, oneOf, runCommand } from '../../local/cli/run.ts';

const USAGE = `npm run retention -- --days N [--table raw|1min|1h] [--data-dir DIR]
Replaces how long a grain is kept (default table: raw). TimescaleDB: the jobs the setting changes
(its retention policy, the refresh windows) are altered in place, at once; a missing policy is
added. Plain PostgreSQL: the next maintenance run drops partitions / rollup rows past it. Rows a
shorter setting already dropped are never folded into the aggregates again (docs/warehouse.md).
Refused when it would let a refresh erase aggregates (1min >= raw and >= 3 days, 1h >= 1min).
Database: as for npm run verify.`;

const TABLES = ['raw', '1min', '1h'] as const;

runCommand(
  {
    usage: USAGE,
    options: {
      days: { type: 'string' },
      table: { type: 'string', default: 'raw' },
      'data-dir': { type: 'string' },
    },
  },
  async ({ values: flags }) => {
    const days = integer('days', flags.days, { min: 1, max: 36_500 });
    const grain = oneOf('table', flags.table, TABLES);
    const cli = await openCliDatabase(flags['data-dir'], 'npm run retention');
    try {
      const engine = await installedEngine(cli.db);
      const settings = await setRetention(cli.db, grain, days);
      console.log(`retention ${grain} = ${days} days on ${cli.description}`);
      console.log(
        `now: ${Object.entries(settings)
          .map(([g, d]) => `${g} ${d === null ? 'kept' : `${d} d`}`)
          .join(', ')}`,
      );
      console.log(engine === 'timescale' ? 'TimescaleDB: the policies it changes were altered (see npm run verify).' : 'plain PostgreSQL: applied by the next maintenance run.');
      return 0;
    } finally {
      await cli.close();
    }
  },
);
