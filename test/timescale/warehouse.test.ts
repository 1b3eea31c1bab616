import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportColumns } from '#core/warehouse/export';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { runMaintenance } from '#core/warehouse/maintenance';
import { collectWarehouseStatus } from '#core/warehouse/verify';
import { startTimescale, type TimescaleTestDb } from '../helpers/pglite.ts';
import {
  completeIntervalStart,
  directAggregate,
  generateTelemetry,
  hoursAgo,
  insertTelemetry,
  oeeScenario,
  readbackDdl,
  readbackSelect,
  sortRows,
  storedAggregate,
  tableSnapshot,
  telemetryRow,
} from './warehouseFixtures.ts';
import { exportToFile, readParquet, readText } from './warehouseExport.ts';
import { jobFor as findJob, refreshAll as refreshEvery, runRefresh } from './warehouseJobs.ts';

// One in-process TimescaleDB for the whole file (~2.7 s and ~450 MB each). Every test brings its
// own data, on its own units (sources), so they hold in any order.
let tsdb: TimescaleTestDb;

beforeAll(async () => {
  tsdb = await startTimescale();
  await migrate(tsdb.db, await readMigrations('migrations'));
});
afterAll(async () => {
  await tsdb?.close();
});

const jobFor = (proc: string, target: string) => findJob(tsdb, proc, target);
const refreshAll = () => refreshEvery(tsdb);
const GRAIN_WIDTH = { telemetry_1min: '1 minute', telemetry_1h: '1 hour', telemetry_1day: '1 day' } as const;

async function expectAggregatesMatchRaw(sources: string[]): Promise<void> {
  for (const [table, width] of Object.entries(GRAIN_WIDTH)) {
    const expected = await directAggregate(tsdb.db, width, sources);
    expect(expected.length).toBeGreaterThan(0);
    expect(await storedAggregate(tsdb.db, table, sources), table).toEqual(expected);
  }
}

describe('TimescaleDB warehouse', () => {
  it('verify is red on a fresh database: empty telemetry, maintenance never ran', async () => {
    // Prepare: a database of its own, migrated, no data
    const fresh = await startTimescale();
    try {
      await migrate(fresh.db, await readMigrations('migrations'));
      // Act
      const status = await collectWarehouseStatus(fresh.db);
      // Assess
      expect(status.engine).toBe('timescale');
      expect(status.status).toBe('red');
      const red = status.checks.filter((c) => c.status === 'red').map((c) => c.name);
      expect(red).toEqual(expect.arrayContaining(['rows telemetry_events', 'rows telemetry_1min', 'maintenance']));
    } finally {
      await fresh.close();
    }
  });

  it('stores telemetry in a hypertable of 1-day chunks with a columnstore policy segmented by source and fact', async () => {
    const { rows: dims } = await tsdb.db.query<{ time_interval: string }>(
      `SELECT time_interval::text FROM timescaledb_information.dimensions WHERE hypertable_name = 'telemetry_events' AND column_name = 'ts'`,
    );
    const { rows: settings } = await tsdb.db.query<{ segmentby: string; orderby: string }>(
      `SELECT segmentby, orderby FROM timescaledb_information.hypertable_columnstore_settings WHERE hypertable = 'telemetry_events'::regclass`,
    );
    expect(dims).toEqual([{ time_interval: '1 day' }]);
    expect(settings[0]?.segmentby).toBe('source,fact_name');
    expect((await jobFor('policy_compression', 'telemetry_events')).config.compress_after).toBe('1 day');
  });

  it('starts every refresh window inside what its input still holds, and covers every reading ingest accepts', async () => {
    const { rows } = await tsdb.db.query<{ view: string; inside: boolean; covers: boolean | null }>(
      `SELECT j.hypertable_name AS view,
              now() - (j.config->>'start_offset')::interval >= warehouse_fold_from(CASE j.hypertable_name WHEN 'telemetry_1min' THEN 'raw' ELSE '1min' END)
                - INTERVAL '1 minute' AS inside,
              CASE WHEN j.hypertable_name = 'telemetry_1min' THEN now() - (j.config->>'start_offset')::interval <= warehouse_ingest_horizon() END AS covers
       FROM timescaledb_information.jobs j
       WHERE j.proc_name = 'policy_refresh_continuous_aggregate' ORDER BY 1`,
    );
    expect(rows).toEqual([
      { view: 'telemetry_1day', inside: true, covers: null },
      { view: 'telemetry_1h', inside: true, covers: null },
      { view: 'telemetry_1min', inside: true, covers: true },
    ]);
    const { rows: caggs } = await tsdb.db.query<{ view_name: string; materialized_only: boolean }>(
      'SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY 1',
    );
    expect(caggs.every((c) => c.materialized_only === false)).toBe(true);
  });

  it('answers 1min/1h/1day equal to a direct GROUP BY over the raw rows, materialized, and in real time for rows after the last refresh', async () => {
    // Prepare: 26 hours of merged rows (spikes included), crossing hour and day boundaries
    const SOURCES = ['FBE_01', 'FBE_02', 'FBE_03'];
    await insertTelemetry(tsdb.db, generateTelemetry({ sources: SOURCES, from: hoursAgo(26), to: hoursAgo(0.05), stepSeconds: 90 }));
    // Act + Assess: materialized by the policies' jobs
    await refreshAll();
    await expectAggregatesMatchRaw(SOURCES);
    const { rows } = await tsdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM _timescaledb_catalog.continuous_aggs_watermark`);
    expect(rows[0]?.n).toBeGreaterThan(0);
    // Act + Assess: rows of the last half minute, newer than every refresh: real-time aggregation answers
    await insertTelemetry(tsdb.db, generateTelemetry({ sources: SOURCES, from: hoursAgo(0.008), to: new Date(), stepSeconds: 10, seed: 3 }));
    await expectAggregatesMatchRaw(SOURCES);
  });

  it('keeps a spike merged inside a batch in the 1-minute max, and counts every merged sample', async () => {
    // Prepare: one merged row whose last value is 61 but whose batch held a 99
    const ts = hoursAgo(2).toISOString();
    await insertTelemetry(tsdb.db, [
      {
        ts,
        source: 'FBE_07',
        fact_name: 'pressure_bar',
        value_float: 61,
        value_bool: null,
        value_str: null,
        sample_count: 5,
        value_min: 60,
        value_max: 99,
        value_avg: 70,
        event_id: 'spike',
      },
    ]);
    // Act: a row inside an already materialized region shows once the refresh policy has run
    await runRefresh(tsdb, 'telemetry_1min');
    const { rows } = await tsdb.db.query<{ value_max: number; last_value: number; sample_count: number; value_avg: number }>(
      `SELECT value_max, last_value, sample_count, value_avg FROM telemetry_1min WHERE source = 'FBE_07'`,
    );
    // Assess
    expect(rows).toEqual([{ value_max: 99, last_value: 61, sample_count: 5, value_avg: 70 }]);
  });

  it('folds a late row into its already materialized bucket on the next refresh', async () => {
    // Prepare: FBE_11's last six hours, materialized; then a late row for it, 3 hours back
    await insertTelemetry(tsdb.db, generateTelemetry({ sources: ['FBE_11'], from: hoursAgo(6), to: hoursAgo(0.05), stepSeconds: 120 }));
    await refreshAll();
    await insertTelemetry(tsdb.db, [
      telemetryRow('FBE_11', 'temperature_c', hoursAgo(3).toISOString(), { value_float: 150, sample_count: 2, value_min: 140, value_max: 150, value_avg: 145, event_id: 'late' }),
    ]);
    // Act
    await refreshAll();
    // Assess
    await expectAggregatesMatchRaw(['FBE_11']);
    const { rows } = await tsdb.db.query<{ m: number }>(`SELECT max(value_max) AS m FROM telemetry_1day WHERE source = 'FBE_11' AND fact_name = 'temperature_c'`);
    expect(rows[0]?.m).toBe(150);
  });

  it('drops raw rows past retention and keeps their aggregates through later refreshes', async () => {
    // Prepare: FBE_09 ten days back, materialized while its raw rows exist
    await insertTelemetry(tsdb.db, generateTelemetry({ sources: ['FBE_09'], from: hoursAgo(241), to: hoursAgo(239), stepSeconds: 60 }));
    for (const view of Object.keys(GRAIN_WIDTH)) {
      await tsdb.db.query(`CALL refresh_continuous_aggregate('${view}', now() - INTERVAL '12 days', now() - INTERVAL '8 days')`);
    }
    const before = await Promise.all(Object.keys(GRAIN_WIDTH).map((t) => storedAggregate(tsdb.db, t, ['FBE_09'])));
    expect(before[0]).toEqual(await directAggregate(tsdb.db, '1 minute', ['FBE_09']));
    // Act: the raw retention policy, then every refresh policy
    await tsdb.runJob((await jobFor('policy_retention', 'telemetry_events')).job_id);
    await refreshAll();
    // Assess
    const { rows } = await tsdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM telemetry_events WHERE source = 'FBE_09'`);
    expect(rows[0]?.n).toBe(0);
    const after = await Promise.all(Object.keys(GRAIN_WIDTH).map((t) => storedAggregate(tsdb.db, t, ['FBE_09'])));
    expect(after).toEqual(before);
    expect(after.every((a) => a.length > 0)).toBe(true);
  });

  it('computes OEE snapshots in maintenance from the facts, idempotently, leaving aggregates to the policies', async () => {
    // Prepare
    const start = completeIntervalStart(3);
    await insertTelemetry(tsdb.db, oeeScenario('FBE_04', 'FBE_05', start));
    // Act
    const first = await runMaintenance(tsdb.db);
    const snapshot = await tableSnapshot(tsdb.db, 'oee_snapshots', 'source, ts');
    const second = await runMaintenance(tsdb.db);
    // Assess
    expect(first).toMatchObject({ engine: 'timescale', partitions: null, rollups: null, oee: { status: 'done' }, failures: [] });
    expect(second.oee).toMatchObject({ status: 'done', result: { snapshotsWritten: 0 } });
    expect(await tableSnapshot(tsdb.db, 'oee_snapshots', 'source, ts')).toEqual(snapshot);
    const { rows } = await tsdb.db.query(
      `SELECT source, availability_pct, performance_pct, quality_pct, round(oee_pct::numeric, 6)::float8 AS oee_pct, coverage_s, partial, null_reason
       FROM oee_snapshots WHERE ts = $1 AND source IN ('FBE_04', 'FBE_05') ORDER BY source`,
      [start.toISOString()],
    );
    expect(rows).toEqual([
      { source: 'FBE_04', availability_pct: 80, performance_pct: 80, quality_pct: 93.75, oee_pct: 60, coverage_s: 300, partial: false, null_reason: null },
      // no state and no running fact configured: no availability, and no fallback to the pump
      { source: 'FBE_05', availability_pct: null, performance_pct: null, quality_pct: null, oee_pct: null, coverage_s: 0, partial: true, null_reason: 'no_running_data' },
    ]);
  });

  it('accepts idempotent ingest writes into compressed chunks', async () => {
    // Prepare: FBE_08 three days back, compressed by the columnstore policy
    const rows = generateTelemetry({ sources: ['FBE_08'], from: hoursAgo(73), to: hoursAgo(72), stepSeconds: 60 });
    await insertTelemetry(tsdb.db, rows);
    await tsdb.runJob((await jobFor('policy_compression', 'telemetry_events')).job_id);
    const { rows: chunks } = await tsdb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'telemetry_events' AND is_compressed`,
    );
    expect(chunks[0]?.n).toBeGreaterThan(0);
    // Act: the same batch redelivered
    const inserted = await insertTelemetry(tsdb.db, rows);
    // Assess
    expect(inserted).toBe(0);
    const { rows: count } = await tsdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM telemetry_events WHERE source = 'FBE_08'`);
    expect(count[0]?.n).toBe(rows.length);
  });

  it('exports round-trip: CSV read back by COPY and Parquet read back by hyparquet equal the rows exported', async () => {
    // Prepare: two units of their own, with a string that needs CSV quoting
    const units = ['FBE_06', 'FBE_10'];
    await insertTelemetry(tsdb.db, generateTelemetry({ sources: units, from: hoursAgo(6), to: hoursAgo(0.1), stepSeconds: 60 }));
    await insertTelemetry(tsdb.db, [telemetryRow('FBE_06', 'batch_note', hoursAgo(1).toISOString(), { value_str: 'say "hi", then\nleave', event_id: 'note' })]);
    const dir = await mkdtemp(join(tmpdir(), 'tapline-export-'));
    try {
      // Act: raw rows filtered by source and fact, in chunks of 700 (several cursor fetches)
      const raw = await exportToFile(tsdb.db, { grain: 'raw', sinceHours: 30, sources: units, facts: ['temperature_c', 'state', 'batch_note'] }, join(dir, 'raw.csv'), 700);
      await tsdb.db.exec(readbackDdl('readback_raw', exportColumns('raw')));
      await tsdb.copyCsv('readback_raw', await readText(join(dir, 'raw.csv')));
      const csvBack = await tsdb.db.query(readbackSelect('readback_raw', exportColumns('raw')));
      // Act: the 1min grain to Parquet, one row group per 1,000-row chunk
      const agg = await exportToFile(tsdb.db, { grain: '1min', sinceHours: 30, sources: units }, join(dir, 'agg.parquet'), 1_000);
      const parquetBack = await readParquet(join(dir, 'agg.parquet'));
      // Assess
      const {
        rows: [expected],
      } = await tsdb.db.query<{ raw: number; agg: number }>(
        `SELECT (SELECT count(*)::int FROM telemetry_events WHERE source = ANY ($1::text[])
                   AND fact_name IN ('temperature_c', 'state', 'batch_note') AND ts >= now() - INTERVAL '30 hours') AS raw,
                (SELECT count(*)::int FROM telemetry_1min WHERE source = ANY ($1::text[]) AND bucket >= now() - INTERVAL '30 hours') AS agg`,
        [units],
      );
      expect(raw.length).toBeGreaterThan(700);
      expect(raw.length).toBe(expected?.raw);
      expect(raw.find((r) => r.fact_name === 'batch_note')?.value_str).toBe('say "hi", then\nleave');
      expect(sortRows(csvBack.rows)).toEqual(sortRows(raw));
      expect(agg.length).toBe(expected?.agg);
      expect(parquetBack.rowGroups).toBe(Math.ceil(agg.length / 1_000));
      expect(sortRows(parquetBack.rows)).toEqual(sortRows(agg));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
