import { afterAll, beforeAll, describe } from 'vitest';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { runMaintenance } from '#core/warehouse/maintenance';
import { collectWarehouseStatus } from '#core/warehouse/verify';
import { startTimescale, type TimescaleTestDb } from '../helpers/pglite.ts';
import { runPolicyJobs } from './warehouseJobs.ts';
import { defineNumberTests } from './warehouseNumbers.ts';

// TimescaleDB: the continuous aggregates as their policies refresh them (every policy job run as
// the scheduler would), then a maintenance run for OEE.
let tsdb: TimescaleTestDb;
const now = new Date();

beforeAll(async () => {
  tsdb = await startTimescale();
  await migrate(tsdb.db, await readMigrations('migrations'));
});
afterAll(async () => {
  await tsdb?.close();
});

describe('TimescaleDB: numbers a BI user can trust', () => {
  defineNumberTests(() => ({
    db: tsdb.db,
    now,
    materialize: async () => {
      await runPolicyJobs(tsdb);
      await runMaintenance(tsdb.db, { now });
    },
    verify: () => collectWarehouseStatus(tsdb.db),
  }));
});
