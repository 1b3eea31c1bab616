import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { startTimescale, type TimescaleTestDb } from '../helpers/pglite.ts';
import { directAggregate, generateTelemetry, hoursAgo, insertTelemetry, storedAggregate } from './warehouseFixtures.ts';
import { refreshAll } from './warehouseJobs.ts';

// Upgrading a TimescaleDB database whose continuous aggregates hold data (0008 recreates them):
// every materialized row is kept, including rows whose raw rows retention already dropped.
let tsdb: TimescaleTestDb;
const GRAINS = { telemetry_1min: '1 minute', telemetry_1h: '1 hour', telemetry_1day: '1 day' } as const;
const OLD_COLUMNS = 'bucket, source, fact_name, sample_count, value_sum, value_avg, value_min, value_max, last_value, last_str, last_ts';
const rowsOf = async (view: string, columns = OLD_COLUMNS) => (await tsdb.db.query(`SELECT ${columns} FROM ${view} ORDER BY bucket, source, fact_name`)).rows;

beforeAll(async () => {
  tsdb = await startTimescale();
  const all = await readMigrations('migrations');
  await migrate(
    tsdb.db,
    all.filter((m) => m.name < '0007'),
  );
});
afterAll(async () => {
  await tsdb?.close();
});

describe('TimescaleDB upgrade to the v2 aggregates', () => {
  it('keeps every materialized row, also those whose raw rows are gone, and the new definitions take over from there', async () => {
    // Prepare: the old aggregates materialized over data 10 days back (then dropped by retention) and recent data
    await insertTelemetry(tsdb.db, generateTelemetry({ sources: ['UP_OLD'], from: hoursAgo(241), to: hoursAgo(239), stepSeconds: 60 }));
    await insertTelemetry(tsdb.db, generateTelemetry({ sources: ['UP_NEW'], from: hoursAgo(3), to: hoursAgo(0.2), stepSeconds: 60 }));
    for (const view of Object.keys(GRAINS)) await tsdb.db.query(`CALL refresh_continuous_aggregate('${view}', NULL, now() - INTERVAL '1 hour')`);
    await tsdb.db.query(`SELECT drop_chunks('telemetry_events', older_than => now() - INTERVAL '7 days')`);
    const before = Object.fromEntries(await Promise.all(Object.keys(GRAINS).map(async (v) => [v, await rowsOf(v)] as const)));
    expect(before.telemetry_1day?.some((r) => r.source === 'UP_OLD')).toBe(true);
    // Act
    const report = await migrate(tsdb.db, await readMigrations('migrations'));
    // Assess: the same rows at once (the watermark came along), numeric_count filled in
    expect(report.applied).toEqual(expect.arrayContaining(['0007_warehouse_arithmetic.sql', '0008_warehouse_aggregates.timescale.sql']));
    for (const view of Object.keys(GRAINS)) expect(await rowsOf(view), view).toEqual(before[view]);
    const { rows: counted } = await tsdb.db.query<{ bad: number }>(
      `SELECT count(*)::int AS bad FROM telemetry_1min WHERE numeric_count IS DISTINCT FROM CASE WHEN value_avg IS NULL THEN 0 ELSE sample_count END`,
    );
    expect(counted).toEqual([{ bad: 0 }]);
    // Act: the new refresh policies run
    await refreshAll(tsdb);
    // Assess: the rows without raw input are kept as they were; the rest follow the new definition
    for (const view of Object.keys(GRAINS)) {
      expect(
        (await rowsOf(view)).filter((r) => r.source === 'UP_OLD'),
        view,
      ).toEqual(before[view]?.filter((r) => r.source === 'UP_OLD'));
    }
    for (const [view, width] of Object.entries(GRAINS)) {
      expect(await storedAggregate(tsdb.db, view, ['UP_NEW']), view).toEqual(await directAggregate(tsdb.db, width, ['UP_NEW']));
    }
  });
});
