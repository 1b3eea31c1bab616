import { dashboardContract } from '../helpers/grafana.ts';
import { startTimescale } from '../helpers/pglite.ts';

// TimescaleDB (Timescale Cloud, the compose container): continuous aggregates with real-time
// aggregation. The same contract runs on plain PostgreSQL in test/integration/grafana.test.ts.
dashboardContract('TimescaleDB (PGlite)', async () => {
  const tsdb = await startTimescale();
  return { db: tsdb.db, close: () => tsdb.close() };
});
