import { afterAll, beforeAll } from 'vitest';
import { connectDatabase, type Database } from '#core/db/connect';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { readEnv } from '#core/env';
import { startPostgres, type LocalPostgres } from '../../local/services/postgres.ts';

/**
 * For an upgrade test: a plain PostgreSQL of the test file's own, migrated up to (not including)
 * `migration`, so the test can write rows as the older schema held them, then `migrateAll`.
 */
export function databaseBefore(migration: string): { db: () => Database; migrateAll: () => Promise<unknown> } {
  let server: LocalPostgres | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    server = await startPostgres();
    db = await connectDatabase(readEnv({ DATABASE_URL: server.url }));
    await migrate(
      db,
      (await readMigrations('migrations')).filter((m) => m.name < migration),
    );
  });
  afterAll(async () => {
    await db?.end();
    await server?.stop();
  });
  const opened = (): Database => {
    if (!db) throw new Error('the database starts in beforeAll');
    return db;
  };
  return { db: opened, migrateAll: async () => migrate(opened(), await readMigrations('migrations')) };
}
