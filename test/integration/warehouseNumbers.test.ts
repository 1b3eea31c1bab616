import { afterAll, beforeAll, describe } from 'vitest';
import { runMaintenance } from '#core/warehouse/maintenance';
import { collectWarehouseStatus } from '#core/warehouse/verify';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';
import { defineNumberTests } from '../timescale/warehouseNumbers.ts';

// Plain PostgreSQL: the rollup tables and OEE are what one maintenance run computes.
let pg: MigratedPostgres;
const now = new Date();

beforeAll(async () => {
  pg = await startMigratedPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

describe('plain PostgreSQL: numbers a BI user can trust', () => {
  defineNumberTests(() => ({
    db: pg.db,
    now,
    materialize: async () => {
      await runMaintenance(pg.db, { now });
    },
    verify: () => collectWarehouseStatus(pg.db, { now }),
  }));
});
