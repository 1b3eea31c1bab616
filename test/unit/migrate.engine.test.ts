import { describe, expect, it } from 'vitest';
import { detectEngine, MigrationError } from '#core/db/migrate';
import type { SqlDatabase } from '#core/db/session';

/** A server as detectEngine sees it: which extension state, which recorded engine, what CREATE EXTENSION does. */
function server(o: { installed: boolean; available: boolean; recorded: string | null; createExtension?: () => void }) {
  const executed: string[] = [];
  const db = {
    query: async (text: string) => {
      if (text.includes('pg_available_extensions')) return { rows: [{ installed: o.installed, available: o.available, migrated: o.recorded !== null }] };
      if (text.includes('schema_migrations')) return { rows: [{ engines: o.recorded }] };
      throw new Error(`unexpected query: ${text}`);
    },
    exec: async (script: string) => {
      executed.push(script);
      o.createExtension?.();
    },
  } as unknown as SqlDatabase;
  return { db, executed };
}

describe('choosing the engine', () => {
  it('keeps a database migrated as plain PostgreSQL plain when TimescaleDB becomes available', async () => {
    const s = server({ installed: false, available: true, recorded: 'plain' });
    expect(await detectEngine(s.db)).toBe('plain');
    expect(s.executed).toEqual([]);
  });

  it('refuses a database migrated for TimescaleDB whose extension is gone', async () => {
    await expect(detectEngine(server({ installed: false, available: true, recorded: 'timescale' }).db)).rejects.toThrow(/migrated for TimescaleDB/);
  });

  it('says what to change when TimescaleDB is installed but not preloaded', async () => {
    const s = server({
      installed: false,
      available: true,
      recorded: null,
      createExtension: () => {
        throw new Error('extension "timescaledb" must be preloaded');
      },
    });
    const error = await detectEngine(s.db).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/shared_preload_libraries = 'timescaledb'/);
  });

  it('takes TimescaleDB for a fresh database on a server that offers it, plain PostgreSQL otherwise', async () => {
    expect(await detectEngine(server({ installed: false, available: true, recorded: null }).db)).toBe('timescale');
    expect(await detectEngine(server({ installed: false, available: false, recorded: null }).db)).toBe('plain');
  });
});
