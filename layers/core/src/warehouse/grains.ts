import type { SqlSession } from '../db/session.ts';
import type { Engine } from '../db/migrate.ts';

/**
 * The warehouse's grains and the table (hypertable, continuous aggregate or rollup table) that
 * holds each. Names are trusted constants: they are the only identifiers warehouse SQL interpolates.
 */
export const GRAINS = ['raw', '1min', '1h', '1day'] as const;
export type Grain = (typeof GRAINS)[number];

export const GRAIN_TABLE: Record<Grain, string> = {
  raw: 'telemetry_events',
  '1min': 'telemetry_1min',
  '1h': 'telemetry_1h',
  '1day': 'telemetry_1day',
};

/** The time column of each grain's table. */
export const GRAIN_TIME: Record<Grain, string> = { raw: 'ts', '1min': 'bucket', '1h': 'bucket', '1day': 'bucket' };

export const isGrain = (s: string): s is Grain => (GRAINS as readonly string[]).includes(s);

/**
 * Which engine an already migrated database runs on, without side effects (migrate()'s
 * detectEngine installs the extension when it is available; read-only tools must not).
 */
export async function installedEngine(db: SqlSession): Promise<Engine> {
  const { rows } = await db.query<{ installed: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS installed`);
  return rows[0]?.installed ? 'timescale' : 'plain';
}
