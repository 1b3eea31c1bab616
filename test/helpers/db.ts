import { connectDatabase, type Database } from '#core/db/connect';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { readEnv } from '#core/env';
import { startPostgres } from '../../local/services/postgres.ts';

export interface MigratedPostgres {
  /** A pool on the fresh database (the same kind of pool the handlers use). */
  db: Database;
  url: string;
  /** Closes the pool and removes the cluster. */
  stop(): Promise<void>;
  /** Stops the server, keeping the data: the database is unreachable until resume(). */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** An embedded PostgreSQL on 127.0.0.1 with every migration applied. */
export async function startMigratedPostgres(): Promise<MigratedPostgres> {
  const server = await startPostgres();
  const db = await connectDatabase(readEnv({ DATABASE_URL: server.url }));
  try {
    await migrate(db, await readMigrations('migrations'));
  } catch (e) {
    await db.end();
    await server.stop();
    throw e;
  }
  return {
    db,
    url: server.url,
    pause: () => server.pause(),
    resume: () => server.resume(),
    async stop() {
      await db.end();
      await server.stop();
    },
  };
}
