import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import pgLib from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportColumns } from '#core/warehouse/export';
import { runMaintenance } from '#core/warehouse/maintenance';
import { readRetention, RetentionError, setRetention } from '#core/warehouse/retention';
import { collectWarehouseStatus } from '#core/warehouse/verify';
import { startMigratedPostgres, type MigratedPostgres } from '../helpers/db.ts';
import { lambdaContext } from '../helpers/pipeline.ts';
import {
  completeIntervalStart,
  directAggregate,
  generateTelemetry,
  hoursAgo,
  insertTelemetry,
  noonUtc,
  oeeScenario,
  readbackDdl,
  readbackSelect,
  saveRetention,
  sortRows,
  storedAggregate,
  tableSnapshot,
  telemetryRow,
} from '../timescale/warehouseFixtures.ts';
import { exportToFile, readParquet } from '../timescale/warehouseExport.ts';

// One embedded PostgreSQL for the whole file. Every test brings its own data, on its own units
// (sources), and puts back what it changes, so they hold in any order; the clock is the suite's
// NOW, noon UTC of the day before the suite starts, not the wall clock: its days are fixed, and
// maintenance runs recorded by the wall clock are never in its future.
let pg: MigratedPostgres;
let dir: string;
const NOW = noonUtc(1);

beforeAll(async () => {
  pg = await startMigratedPostgres();
  dir = await mkdtemp(join(tmpdir(), 'tapline-warehouse-'));
});
afterAll(async () => {
  await pg?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Loads CSV through PostgreSQL's own COPY parser. */
async function copyCsv(table: string, csv: string): Promise<void> {
  const client = new pgLib.Client({ connectionString: pg.url });
  await client.connect();
  try {
    await pipeline(Readable.from([csv]), client.query(copyFrom(`COPY ${table} FROM STDIN WITH (FORMAT csv, HEADER true)`)));
  } finally {
    await client.end();
  }
}

const execFileAsync = promisify(execFile);
/** Runs an operator command as `npm run <x>` does (tsx ops/bin/<x>.ts), against this database. */
async function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(join('node_modules', '.bin', 'tsx'), [join('ops', 'bin', script), ...args], {
      env: { ...process.env, DATABASE_URL: pg.url },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const GRAIN_WIDTH = { telemetry_1min: '1 minute', telemetry_1h: '1 hour', telemetry_1day: '1 day' } as const;
const utcDay = (offsetDays: number, from = NOW) => new Date(from.getTime() + offsetDays * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
const maintain = () => runMaintenance(pg.db, { now: NOW });
const hoursBefore = (h: number) => hoursAgo(h, NOW.getTime());

/** Data of today and yesterday, and a maintenance run: a healthy warehouse (for tests that start green). */
async function healthy(): Promise<void> {
  for (const h of [2, 30]) {
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['FBE_08'], from: hoursBefore(h), to: hoursBefore(h - 1), stepSeconds: 120 }));
  }
  await maintain();
}

async function partitions(): Promise<string[]> {
  const { rows } = await pg.db.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'telemetry_events'::regclass ORDER BY 1`,
  );
  return rows.map((r) => r.relname);
}
const count = async (sql: string, params: unknown[] = []) => (await pg.db.query<{ n: number }>(sql, params)).rows[0]?.n;

async function expectRollupsMatchRaw(sources: string[]): Promise<void> {
  for (const [table, width] of Object.entries(GRAIN_WIDTH)) {
    const expected = await directAggregate(pg.db, width, sources);
    expect(expected.length).toBeGreaterThan(0);
    expect(await storedAggregate(pg.db, table, sources), table).toEqual(expected);
  }
}
const warehouseSnapshot = async () => ({
  '1min': await tableSnapshot(pg.db, 'telemetry_1min', 'bucket, source, fact_name'),
  '1h': await tableSnapshot(pg.db, 'telemetry_1h', 'bucket, source, fact_name'),
  '1day': await tableSnapshot(pg.db, 'telemetry_1day', 'bucket, source, fact_name'),
  oee: await tableSnapshot(pg.db, 'oee_snapshots', 'source, ts'),
  partitions: await partitions(),
});

describe('plain PostgreSQL warehouse', () => {
  it('verify is red on a fresh database: empty telemetry, maintenance never ran', async () => {
    const fresh = await startMigratedPostgres();
    try {
      const status = await collectWarehouseStatus(fresh.db, { now: NOW });
      expect(status.engine).toBe('plain');
      expect(status.status).toBe('red');
      const red = status.checks.filter((c) => c.status === 'red').map((c) => c.name);
      expect(red).toEqual(expect.arrayContaining(['rows telemetry_events', 'rows telemetry_1min', 'rows telemetry_1h', 'maintenance']));
    } finally {
      await fresh.stop();
    }
  });

  it('creates daily partitions from the raw retention horizon to 3 days ahead when migrating', async () => {
    // the days are the migration's, whenever this test runs
    const {
      rows: [m],
    } = await pg.db.query<{ at: string }>(`SELECT applied_at::text AS at FROM schema_migrations WHERE name = '0003_telemetry.plain.sql'`);
    const migratedAt = new Date(m?.at ?? '');
    const expected = [-7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3].map((d) => `telemetry_events_p${utcDay(d, migratedAt)}`);
    expect(await partitions()).toEqual(expect.arrayContaining(expected));
  });

  it('keeps rollup tables equal to a direct GROUP BY over the raw rows, with the continuous aggregates columns', async () => {
    // Prepare
    const sources = ['FBE_01', 'FBE_02', 'FBE_03'];
    await insertTelemetry(pg.db, generateTelemetry({ sources, from: hoursBefore(26), to: hoursBefore(0.05), stepSeconds: 90 }));
    // Act
    const report = await maintain();
    // Assess
    expect(report.rollups).toMatchObject({ status: 'done' });
    await expectRollupsMatchRaw(sources);
  });

  it('is idempotent: a second maintenance run writes nothing and leaves every table as it was', async () => {
    // Prepare
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['FBE_04'], from: hoursBefore(5), to: hoursBefore(0.1), stepSeconds: 60 }));
    await maintain();
    const before = await warehouseSnapshot();
    // Act
    const second = await maintain();
    // Assess
    expect(second.rollups).toMatchObject({ status: 'done', result: { '1min': 0, '1h': 0, '1day': 0 } });
    expect(second.partitions).toMatchObject({ created: 0, dropped: 0 });
    expect(await warehouseSnapshot()).toEqual(before);
  });

  it('recomputes only the buckets a late row touched since the last run', async () => {
    // Prepare: FBE_05's last six hours rolled up, then a late row three hours back
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['FBE_05'], from: hoursBefore(6), to: hoursBefore(0.1), stepSeconds: 120 }));
    await maintain();
    await insertTelemetry(pg.db, [
      telemetryRow('FBE_05', 'temperature_c', hoursBefore(3).toISOString(), {
        value_float: 150,
        sample_count: 2,
        value_min: 140,
        value_max: 150,
        value_avg: 145,
        event_id: 'late',
      }),
    ]);
    // Act
    const report = await maintain();
    // Assess: one minute, one hour and one day bucket rewritten; all still equal the raw rows
    expect(report.rollups).toMatchObject({ status: 'done', result: { '1min': 1, '1h': 1, '1day': 1 } });
    await expectRollupsMatchRaw(['FBE_05']);
  });

  it('computes OEE snapshots from the facts with the documented formulas, idempotently', async () => {
    const start = completeIntervalStart(3, NOW);
    await insertTelemetry(pg.db, oeeScenario('FBE_06', 'FBE_07', start));
    await maintain();
    const first = await tableSnapshot(pg.db, 'oee_snapshots', 'source, ts');
    const again = await maintain();
    expect(again.oee).toMatchObject({ status: 'done', result: { snapshotsWritten: 0 } });
    expect(await tableSnapshot(pg.db, 'oee_snapshots', 'source, ts')).toEqual(first);
    const { rows } = await pg.db.query(
      `SELECT source, availability_pct, performance_pct, quality_pct, round(oee_pct::numeric, 6)::float8 AS oee_pct, coverage_s, partial, null_reason
       FROM oee_snapshots WHERE ts = $1 AND source IN ('FBE_06', 'FBE_07') ORDER BY source`,
      [start.toISOString()],
    );
    expect(rows).toEqual([
      { source: 'FBE_06', availability_pct: 80, performance_pct: 80, quality_pct: 93.75, oee_pct: 60, coverage_s: 300, partial: false, null_reason: null },
      // no state and no running fact configured: no availability, and no fallback to the pump
      { source: 'FBE_07', availability_pct: null, performance_pct: null, quality_pct: null, oee_pct: null, coverage_s: 0, partial: true, null_reason: 'no_running_data' },
    ]);
  });

  it('refuses retention settings that would let a refresh erase aggregates', async () => {
    await expect(setRetention(pg.db, '1min', 2)).rejects.toBeInstanceOf(RetentionError);
    await expect(setRetention(pg.db, 'raw', 40)).rejects.toThrow(/1min retention \(30 days\) must be at least the raw retention \(40 days\)/);
    expect(await readRetention(pg.db)).toEqual({ raw: 7, '1min': 30, '1h': 365, '1day': null });
  });

  it('deletes rollup rows past their own retention', async () => {
    // Prepare: a 1min row 40 days old (older than the 30-day 1min retention) and a recent one
    await pg.db.query(
      `INSERT INTO telemetry_1min (bucket, source, fact_name, sample_count, last_ts)
       VALUES (date_trunc('minute', $1::timestamptz - INTERVAL '40 days'), 'EXPIRE_A', 'ph', 1, $1::timestamptz - INTERVAL '40 days'),
              (date_trunc('minute', $1::timestamptz - INTERVAL '20 days'), 'EXPIRE_A', 'ph', 1, $1::timestamptz - INTERVAL '20 days')`,
      [NOW.toISOString()],
    );
    // Act
    const report = await maintain();
    // Assess
    expect(report.expiredRollups).toEqual({ '1min': 1, '1h': 0, '1day': 0 });
    expect(await count(`SELECT count(*)::int AS n FROM telemetry_1min WHERE source = 'EXPIRE_A'`)).toBe(1);
  });

  it('verify turns red when today has no partition, and maintenance repairs it', async () => {
    // Prepare: green first
    await healthy();
    expect((await collectWarehouseStatus(pg.db, { now: NOW })).status).not.toBe('red');
    const today = `telemetry_events_p${utcDay(0)}`;
    // Act
    await pg.db.exec(`ALTER TABLE telemetry_events DETACH PARTITION ${today}; ALTER TABLE ${today} RENAME TO detached_today`);
    const broken = await collectWarehouseStatus(pg.db, { now: NOW });
    await maintain();
    const repaired = await collectWarehouseStatus(pg.db, { now: NOW });
    // Assess
    expect(broken.status).toBe('red');
    expect(broken.checks.filter((c) => c.status === 'red').map((c) => c.name)).toEqual(['partition today']);
    expect(repaired.status).not.toBe('red');
    await pg.db.exec('DROP TABLE detached_today');
  });

  it('records a failed step, runs the other steps anyway, and keeps verify red until a run succeeds', async () => {
    // Prepare: OEE input, and the 1h rollup broken (a column its upsert needs is gone)
    await insertTelemetry(pg.db, oeeScenario('FBE_09', 'FBE_10', completeIntervalStart(2, NOW)));
    await pg.db.exec('ALTER TABLE telemetry_1h RENAME COLUMN last_str TO last_text');
    let status: Awaited<ReturnType<typeof collectWarehouseStatus>>;
    try {
      // Act
      await expect(maintain()).rejects.toThrow(/maintenance failed: rollups: .*last_str/);
      status = await collectWarehouseStatus(pg.db, { now: NOW });
    } finally {
      await pg.db.exec('ALTER TABLE telemetry_1h RENAME COLUMN last_text TO last_str');
    }
    // Assess: the run is recorded failed with its step; OEE was computed all the same; retention waited
    const {
      rows: [run],
    } = await pg.db.query<{ report: { failures: Array<{ step: string }>; oee: { status: string }; partitions: { dropped?: number } } }>(
      `SELECT report FROM maintenance_runs WHERE status = 'failed' ORDER BY run_id DESC LIMIT 1`,
    );
    expect(run?.report.failures.map((f) => f.step)).toEqual(['rollups']);
    expect(run?.report.oee.status).toBe('done');
    expect(run?.report.partitions.dropped).toBeUndefined();
    expect(await count(`SELECT count(*)::int AS n FROM oee_snapshots WHERE source = 'FBE_09'`)).toBeGreaterThan(0);
    expect(status.checks.find((c) => c.name === 'maintenance')).toMatchObject({ status: 'red' });
    expect(status.maintenance?.lastRun?.error).toMatch(/last_str/);
    await maintain();
    expect((await collectWarehouseStatus(pg.db, { now: NOW })).status).not.toBe('red');
  });

  it('exports round-trip: Parquet read back by hyparquet and CSV read back by COPY equal the rows exported', async () => {
    // Prepare: units of their own, with a string that needs CSV quoting
    const units = ['EXPORT_A', 'EXPORT_B'];
    await insertTelemetry(pg.db, generateTelemetry({ sources: units, from: hoursBefore(6), to: hoursBefore(0.1), stepSeconds: 60 }));
    await insertTelemetry(pg.db, [telemetryRow('EXPORT_A', 'batch_note', hoursBefore(1).toISOString(), { value_str: 'say "hi", then\nleave', event_id: 'note' })]);
    await maintain();
    // Act: raw (booleans, strings, NULLs) to Parquet in 1,000-row chunks; 1h to CSV
    const raw = await exportToFile(pg.db, { grain: 'raw', sinceHours: 30, sources: units, now: NOW }, join(dir, 'raw.parquet'), 1_000);
    const parquetBack = await readParquet(join(dir, 'raw.parquet'));
    const hourly = await exportToFile(pg.db, { grain: '1h', sinceHours: 30, sources: units, now: NOW }, join(dir, 'hourly.csv'), 3);
    await pg.db.exec(readbackDdl('readback_1h', exportColumns('1h')));
    await copyCsv('readback_1h', await readFile(join(dir, 'hourly.csv'), 'utf8'));
    const csvBack = await pg.db.query(readbackSelect('readback_1h', exportColumns('1h')));
    // Assess
    expect(raw.length).toBe(await count(`SELECT count(*)::int AS n FROM telemetry_events WHERE source = ANY ($1::text[])`, [units]));
    expect(parquetBack.rowGroups).toBe(Math.ceil(raw.length / 1_000));
    expect(sortRows(parquetBack.rows)).toEqual(sortRows(raw));
    expect(raw.some((r) => r.value_bool === true) && raw.some((r) => r.value_str === 'say "hi", then\nleave')).toBe(true);
    expect(hourly.length).toBe(await count(`SELECT count(*)::int AS n FROM telemetry_1h WHERE source = ANY ($1::text[])`, [units]));
    expect(sortRows(csvBack.rows)).toEqual(sortRows(hourly));
    // What a BI user needs beside the averages: numeric samples, sums, and a counter's reset-aware rise.
    expect(raw.every((r) => 'numeric_count' in r)).toBe(true);
    const counter = hourly.filter((r) => r.fact_name === 'packaged_total');
    expect(counter.length).toBeGreaterThan(0);
    expect(counter.every((r) => typeof r.increase === 'number' && r.increase >= 0 && typeof r.last_ts === 'string')).toBe(true);
    expect(hourly.filter((r) => r.fact_name === 'temperature_c').every((r) => r.increase === null && typeof r.value_sum === 'number')).toBe(true);
  });

  it('exports an empty selection as a valid empty file', async () => {
    const none = await exportToFile(pg.db, { grain: '1min', sinceHours: 1, sources: ['NO_SUCH_UNIT'] }, join(dir, 'empty.parquet'), 100);
    expect(none).toEqual([]);
    expect((await readParquet(join(dir, 'empty.parquet'))).rows).toEqual([]);
  });

  it('npm run verify prints JSON and exits 0 when green, 1 when red', async () => {
    // Prepare
    await healthy();
    // Act: green
    const green = await cli('verify.ts', ['--json']);
    // Act: red (the 1day rollup emptied)
    await pg.db.query('TRUNCATE telemetry_1day');
    const red = await cli('verify.ts', []);
    // Act: the documented rebuild (only touched buckets are recomputed, so reset the watermark)
    await pg.db.query(`UPDATE maintenance_watermarks SET ingested_through = '-infinity' WHERE task = 'rollups'`);
    await maintain();
    // Assess
    expect(green.code, green.stderr).toBe(0);
    expect(JSON.parse(green.stdout)).toMatchObject({ engine: 'plain', status: expect.stringMatching(/^(ok|warn)$/) });
    expect(red.code).toBe(1);
    expect(red.stdout).toMatch(/tapline verify: RED/);
    expect(red.stdout).toMatch(/RED\s+rows telemetry_1day\s+telemetry_1day is empty/);
    expect(await count('SELECT count(*)::int AS n FROM telemetry_1day')).toBeGreaterThan(0);
  });

  it('npm run export writes a Parquet file hyparquet reads, and fails with a clear message and no file on bad input', async () => {
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['EXPORT_C'], from: hoursBefore(3), to: hoursBefore(1), stepSeconds: 60 }));
    await maintain();
    const out = join(dir, 'cli.parquet');
    const ok = await cli('export.ts', ['--grain', '1min', '--since-hours', '168', '--out', out, '--source', 'EXPORT_C']);
    const bad = await cli('export.ts', ['--grain', 'weekly', '--out', join(dir, 'bad.parquet')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/wrote [\d,]+ 1min rows/);
    expect((await readParquet(out)).rows.length).toBe(await count(`SELECT count(*)::int AS n FROM telemetry_1min WHERE source = 'EXPORT_C'`));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--grain must be one of raw, 1min, 1h, 1day/);
    await expect(stat(join(dir, 'bad.parquet'))).rejects.toThrow();
  });

  it('npm run retention replaces the setting, and refuses one that would erase aggregates', async () => {
    const restoreRetention = await saveRetention(pg.db);
    try {
      const ok = await cli('retention.ts', ['--days', '10']);
      const refused = await cli('retention.ts', ['--days', '2', '--table', '1min']);
      expect(ok.code, ok.stderr).toBe(0);
      expect((await readRetention(pg.db)).raw).toBe(10);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/1min retention \(2 days\) must be at least the raw retention \(10 days\)/);
    } finally {
      await restoreRetention();
    }
  });

  it('npm run maintenance runs one maintenance with a summary: exit 0 done, 1 when a step fails, 2 on a usage error', async () => {
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['CLI_A'], from: hoursBefore(2), to: hoursBefore(1), stepSeconds: 120 }));
    const done = await cli('maintenance.ts', []);
    const repaired = await cli('maintenance.ts', ['--repair', '--json']);
    const usage = await cli('maintenance.ts', ['--fix']);
    await pg.db.exec('ALTER TABLE telemetry_1h RENAME COLUMN last_str TO last_text');
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['CLI_A'], from: hoursBefore(1), to: hoursBefore(0.5), stepSeconds: 120 }));
    const failed = await cli('maintenance.ts', []).finally(() => pg.db.exec('ALTER TABLE telemetry_1h RENAME COLUMN last_text TO last_str'));
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/maintenance done on .*\(plain PostgreSQL\)\n {2}partitions: .*\n {2}rollups: \d+ 1min, \d+ 1h, \d+ 1day buckets written/);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(JSON.parse(repaired.stdout)).toMatchObject({ engine: 'plain', failures: [] });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error: .*--fix/);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/maintenance failed: rollups: .*last_str.*\(recorded in maintenance_runs; see npm run verify\)/);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    await maintain();
  });

  it('runs as the scheduled maintenance function and records the run', async () => {
    // Prepare: the function reads its database from the environment at first use; the outbox is
    // empty, so the queues (unreachable here) are never called.
    Object.assign(process.env, { DATABASE_URL: pg.url, EVENTS_QUEUE_URL: 'http://127.0.0.1:9/events', INGEST_DLQ_URL: 'http://127.0.0.1:9/dlq' });
    const { lambdaHandler } = await import('../../functions/maintenance/handler.ts');
    const before = await count('SELECT count(*)::int AS n FROM maintenance_runs');
    // Act
    const report = await lambdaHandler({}, lambdaContext());
    // Assess
    expect(report.warehouse.engine).toBe('plain');
    expect(report.outbox).toMatchObject({ sent: 0, failed: 0, pending: 0 });
    expect(await count('SELECT count(*)::int AS n FROM maintenance_runs')).toBe((before ?? 0) + 1);
    const { database } = await import('#core/db/instance');
    await (await database()).end();
  });
});
