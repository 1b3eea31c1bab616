import { connectDatabase } from '#core/db/connect';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import type { SqlDatabase } from '#core/db/session';
import { readEnv } from '#core/env';
import { startMigratedPostgres } from './db.ts';
import { startDebianPostgres } from './debianPostgres.ts';
import { startTimescale } from './pglite.ts';

export interface Engine {
  name: string;
  db: SqlDatabase;
  /** A server's connection URL (PGlite runs in-process and has none). */
  url?: string;
  stop(): Promise<void>;
}

/** The engines every exactly-once property runs on, each migrated from migrations/. */
export const ENGINES: ReadonlyArray<{ name: string; start: () => Promise<Engine> }> = [
  {
    name: 'embedded PostgreSQL',
    async start() {
      const pg = await startMigratedPostgres();
      return { name: 'embedded PostgreSQL', db: pg.db, url: pg.url, stop: () => pg.stop() };
    },
  },
  {
    name: "Debian's PostgreSQL",
    async start() {
      const server = await startDebianPostgres();
      const db = await connectDatabase(readEnv({ DATABASE_URL: server.url }));
      await migrate(db, await readMigrations('migrations'));
      return {
        name: `Debian's PostgreSQL ${server.version}`,
        db,
        url: server.url,
        async stop() {
          await db.end();
          await server.stop();
        },
      };
    },
  },
  {
    name: 'PGlite TimescaleDB',
    async start() {
      const tsdb = await startTimescale();
      await migrate(tsdb.db, await readMigrations('migrations'));
      return { name: 'PGlite TimescaleDB', db: tsdb.db, stop: () => tsdb.close() };
    },
  },
];
