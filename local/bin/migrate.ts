import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { openCliDatabase } from '../cli/database.ts';
import { CliError, runCommand } from '../cli/run.ts';
import { MIGRATIONS_DIR } from '../environment.ts';

const USAGE = `npm run migrate -- [--data-dir DIR]
Applies migrations/ in order (each once; the engine's own files on TimescaleDB) to DATABASE_URL
(or DB_SECRET_ARN, DB_HOST+DB_AUTH=iam), else to the embedded database kept in --data-dir (default
.tapline/local; made when there is none yet). npm run local and invoke migrate by themselves.
Exit status: 0 applied (or nothing to apply), 1 a migration failed, 2 usage or data dir in use.`;

runCommand({ usage: USAGE, options: { 'data-dir': { type: 'string' } } }, async ({ values: args }) => {
  const cli = await openCliDatabase(args['data-dir'], 'npm run migrate', { create: true });
  try {
    const report = await migrate(cli.db, await readMigrations(MIGRATIONS_DIR)).catch((e: unknown) => {
      throw new CliError(`migration failed: ${(e as Error).message}`);
    });
    console.log(`engine ${report.engine}: applied ${report.applied.length} (${report.applied.join(', ') || 'none'}), already applied ${report.skipped.length}`);
    return 0;
  } finally {
    await cli.close();
  }
});
