import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { dashboardContract, readDashboard } from '../helpers/grafana.ts';
import { startPostgres } from '../../local/services/postgres.ts';
import { connectDatabase } from '#core/db/connect';
import { readEnv } from '#core/env';

// Plain PostgreSQL (RDS, the embedded database): rollup tables kept by maintenance. The same
// contract runs on TimescaleDB in test/timescale/grafana.test.ts.
dashboardContract('plain PostgreSQL (embedded)', async () => {
  const server = await startPostgres();
  const db = await connectDatabase(readEnv({ DATABASE_URL: server.url }));
  return {
    db,
    async close() {
      await db.end();
      await server.stop();
    },
  };
});

const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

describe('Grafana provisioning (grafana/)', () => {
  const datasources = yaml.load(readFileSync('grafana/provisioning/datasources/tapline.yaml', 'utf8')) as {
    datasources: Array<{ uid: string; type: string; user: string; jsonData: Record<string, unknown> }>;
  };
  const providers = yaml.load(readFileSync('grafana/provisioning/dashboards/tapline.yaml', 'utf8')) as { providers: Array<{ options: { path: string } }> };

  it('provisions one PostgreSQL data source with TimescaleDB on, logging in as the read-only role', () => {
    expect(datasources.datasources).toHaveLength(1);
    expect(datasources.datasources[0]).toMatchObject({
      uid: 'tapline',
      type: 'grafana-postgresql-datasource',
      user: '${TAPLINE_READER_USER}',
      jsonData: { database: 'tapline', timescaledb: true },
    });
  });

  it('points every panel and variable at that data source, and loads the dashboard from where compose mounts it', () => {
    const dashboard = readDashboard();
    const uids = [...dashboard.panels.flatMap((p) => [p.datasource.uid, ...p.targets.map((t) => t.datasource.uid)]), ...dashboard.templating.list.map((v) => v.datasource.uid)];
    expect(new Set(uids)).toEqual(new Set(['tapline']));
    expect(providers.providers.map((p) => p.options.path)).toEqual(['/var/lib/grafana/dashboards']);
  });
});
