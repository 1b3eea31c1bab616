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
  completeIntervalStart, directAggregate, generateTelemetry, hoursAgo, insertTelemetry, oeeScenario, readbackDdl, readbackSelect,
  sortRows, storedAggregate, tableSnapshot,
} from '../timescale/warehouseFixtures.ts';
import { exportToFile, readParquet } from '../timescale/warehouseExport.ts';

// One embedded PostgreSQL for the whole file: the tests run in order on it and use their own
// units (sources) where their data must not meet.
let pg: MigratedPostgres;
let dir: string;

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
/** Runs an operator command as `npm run <x>` does (tsx local/bin/<x>.ts), against this database. */
async function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(join('node_modules', '.bin', 'tsx'), [join('local', 'bin', script), ...args], {
      env: { ...process.env, DATABASE_URL: pg.url },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const GRAIN_WIDTH = { telemetry_1min: '1 minute', telemetry_1h: '1 hour', telemetry_1day: '1 day' } as const;
const SOURCES = ['FBE_01', 'FBE_02', 'FBE_03'];
const utcDay = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');

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
    const status = await collectWarehouseStatus(pg.db);
    expect(status.engine).toBe('plain');
    expect(status.status).toBe('red');
    const red = status.checks.filter((c) => c.status === 'red').map((c) => c.name);
    expect(red).toEqual(expect.arrayContaining(['rows telemetry_events', 'rows telemetry_1min', 'rows telemetry_1h', 'maintenance']));
  });

  it('creates daily partitions from the raw retention horizon to 3 days ahead when migrating', async () => {
    const expected = [-7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3].map((d) => `telemetry_events_p${utcDay(d)}`);
    expect(await partitions()).toEqual([...expected, 'telemetry_events_default'].sort());
  });

  it('keeps rollup tables equal to a direct GROUP BY over the raw rows, with the continuous aggregates columns', async () => {
    // Prepare
    await insertTelemetry(pg.db, generateTelemetry({ sources: SOURCES, from: hoursAgo(26), to: hoursAgo(0.05), stepSeconds: 90 }));
    // Act
    const report = await runMaintenance(pg.db);
    // Assess
    expect(report.rollups).toMatchObject({ status: 'done' });
    await expectRollupsMatchRaw(SOURCES);
  });

  it('is idempotent: a second maintenance run writes nothing and leaves every table as it was', async () => {
    const before = await warehouseSnapshot();
    const second = await runMaintenance(pg.db);
    expect(second.rollups).toMatchObject({ status: 'done', result: { '1min': 0, '1h': 0, '1day': 0 } });
    expect(second.partitions).toMatchObject({ created: 0, dropped: 0 });
    expect(await warehouseSnapshot()).toEqual(before);
  });

  it('recomputes only the buckets a late row touched since the last run', async () => {
    // Prepare: a late row three hours back, after its buckets were rolled up
    await insertTelemetry(pg.db, [{ ts: hoursAgo(3).toISOString(), source: 'FBE_01', fact_name: 'temperature_c', value_float: 150,
      value_bool: null, value_str: null, sample_count: 2, value_min: 140, value_max: 150, value_avg: 145, event_id: 'late' }]);
    // Act
    const report = await runMaintenance(pg.db);
    // Assess: one minute, one hour and one day bucket rewritten; all still equal the raw rows
    expect(report.rollups).toMatchObject({ status: 'done', result: { '1min': 1, '1h': 1, '1day': 1 } });
    await expectRollupsMatchRaw(SOURCES);
  });

  it('computes OEE snapshots from the facts with the documented formulas, idempotently', async () => {
    const start = completeIntervalStart(3);
    await insertTelemetry(pg.db, oeeScenario('FBE_04', 'FBE_05', start));
    await runMaintenance(pg.db);
    const first = await tableSnapshot(pg.db, 'oee_snapshots', 'source, ts');
    const again = await runMaintenance(pg.db);
    expect(again.oee).toMatchObject({ status: 'done', result: { snapshotsWritten: 0 } });
    expect(await tableSnapshot(pg.db, 'oee_snapshots', 'source, ts')).toEqual(first);
    const { rows } = await pg.db.query(
      `SELECT source, availability_pct, performance_pct, quality_pct, round(oee_pct::numeric, 6)::float8 AS oee_pct
       FROM oee_snapshots WHERE ts = $1 AND source IN ('FBE_04', 'FBE_05') ORDER BY source`,
      [start.toISOString()],
    );
    expect(rows).toEqual([
      { source: 'FBE_04', availability_pct: 80, performance_pct: 80, quality_pct: 93.75, oee_pct: 60 },
      { source: 'FBE_05', availability_pct: 50, performance_pct: null, quality_pct: null, oee_pct: null },
    ]);
  });

  it('drops whole-day partitions past retention and keeps their rollups', async () => {
    // Prepare: FBE_09 five days back, rolled up under the default 7-day retention
    await insertTelemetry(pg.db, generateTelemetry({ sources: ['FBE_09'], from: hoursAgo(121), to: hoursAgo(119), stepSeconds: 60 }));
    await runMaintenance(pg.db);
    const before = await Promise.all(Object.keys(GRAIN_WIDTH).map((t) => storedAggregate(pg.db, t, ['FBE_09'])));
    expect(before[0]).toEqual(await directAggregate(pg.db, '1 minute', ['FBE_09']));
    // Act: npm run retention -- --days 3, then the next maintenance run
    await setRetention(pg.db, 'raw', 3);
    const report = await runMaintenance(pg.db);
    // Assess
    expect(report.partitions?.dropped).toBe(4); // days -7..-4 lie wholly before now - 3 days
    expect(await count(`SELECT count(*)::int AS n FROM telemetry_events WHERE source = 'FBE_09'`)).toBe(0);
    expect(await partitions()).not.toContain(`telemetry_events_p${utcDay(-5)}`);
    const after = await Promise.all(Object.keys(GRAIN_WIDTH).map((t) => storedAggregate(pg.db, t, ['FBE_09'])));
    expect(after).toEqual(before);
    // Act: back to 7 days; the partitions come back (empty) for late rows
    await setRetention(pg.db, 'raw', 7);
    expect((await runMaintenance(pg.db)).partitions?.created).toBe(4);
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
       VALUES (date_trunc('minute', now() - INTERVAL '40 days'), 'FBE_10', 'ph', 1, now() - INTERVAL '40 days'),
              (date_trunc('minute', now() - INTERVAL '20 days'), 'FBE_10', 'ph', 1, now() - INTERVAL '20 days')`,
    );
    // Act
    const report = await runMaintenance(pg.db);
    // Assess
    expect(report.expiredRollups).toEqual({ '1min': 1, '1h': 0, '1day': 0 });
    expect(await count(`SELECT count(*)::int AS n FROM telemetry_1min WHERE source = 'FBE_10'`)).toBe(1);
  });

  it('moves rows out of the default partition when it creates their day', async () => {
    // Prepare: rows five days ahead, beyond the partitions created so far, land in the default
    const ahead = new Date(Date.now() + 5 * 86_400_000);
    const rows = generateTelemetry({ sources: ['FBE_11'], from: ahead, to: new Date(ahead.getTime() + 600_000), stepSeconds: 60 });
    await insertTelemetry(pg.db, rows);
    expect(await count('SELECT count(*)::int AS n FROM telemetry_events_default')).toBe(rows.length);
    const warned = await collectWarehouseStatus(pg.db);
    expect(warned.checks.find((c) => c.name === 'default partition')?.status).toBe('warn');
    // Act: maintenance three days from now creates partitions through day +6
    const report = await runMaintenance(pg.db, { now: new Date(Date.now() + 3 * 86_400_000) });
    // Assess
    expect(report.partitions?.movedFromDefault).toBe(rows.length);
    expect(await count('SELECT count(*)::int AS n FROM telemetry_events_default')).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM telemetry_events_p${utcDay(5)}`)).toBe(rows.length);
  });

  it('verify turns red when today has no partition, and maintenance repairs it', async () => {
    // Prepare: green first
    expect((await collectWarehouseStatus(pg.db)).status).not.toBe('red');
    const today = `telemetry_events_p${utcDay(0)}`;
    // Act
    await pg.db.exec(`ALTER TABLE telemetry_events DETACH PARTITION ${today}; ALTER TABLE ${today} RENAME TO detached_today`);
    const broken = await collectWarehouseStatus(pg.db);
    await runMaintenance(pg.db);
    const repaired = await collectWarehouseStatus(pg.db);
    // Assess
    expect(broken.status).toBe('red');
    expect(broken.checks.filter((c) => c.status === 'red').map((c) => c.name)).toEqual(['partition today']);
    expect(repaired.status).not.toBe('red');
    await pg.db.exec('DROP TABLE detached_today');
  });

  it('records a failed maintenance run, rethrows, and verify turns red until a run succeeds', async () => {
    // Prepare: break the rollup step (a column the upsert needs is gone)
    await pg.db.exec('ALTER TABLE telemetry_1h RENAME COLUMN last_str TO last_text');
    // Act
    await expect(runMaintenance(pg.db)).rejects.toThrow(/maintenance failed/);
    const status = await collectWarehouseStatus(pg.db);
    await pg.db.exec('ALTER TABLE telemetry_1h RENAME COLUMN last_text TO last_str');
    await runMaintenance(pg.db);
    // Assess
    expect(status.checks.find((c) => c.name === 'maintenance')).toMatchObject({ status: 'red' });
    expect(status.maintenance?.lastRun?.error).toMatch(/last_str/);
    expect((await collectWarehouseStatus(pg.db)).status).not.toBe('red');
  });

  it('exports round-trip: Parquet read back by hyparquet and CSV read back by COPY equal the rows exported', async () => {
    // Prepare: units of their own, with a string that needs CSV quoting
    const units = ['FBE_06', 'FBE_10'];
    await insertTelemetry(pg.db, generateTelemetry({ sources: units, from: hoursAgo(6), to: hoursAgo(0.1), stepSeconds: 60 }));
    await insertTelemetry(pg.db, [{ ts: hoursAgo(1).toISOString(), source: 'FBE_06', fact_name: 'batch_note', value_float: null, value_bool: null,
      value_str: 'say "hi", then\nleave', sample_count: 1, value_min: null, value_max: null, value_avg: null, event_id: 'note' }]);
    await runMaintenance(pg.db);
    // Act: raw (booleans, strings, NULLs) to Parquet in 1,000-row chunks; 1h to CSV
    const raw = await exportToFile(pg.db, { grain: 'raw', sinceHours: 30, sources: units }, join(dir, 'raw.parquet'), 1_000);
    const parquetBack = await readParquet(join(dir, 'raw.parquet'));
    const hourly = await exportToFile(pg.db, { grain: '1h', sinceHours: 30, sources: units }, join(dir, 'hourly.csv'), 3);
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
  });

  it('exports an empty selection as a valid empty file', async () => {
    const none = await exportToFile(pg.db, { grain: '1min', sinceHours: 1, sources: ['NO_SUCH_UNIT'] }, join(dir, 'empty.parquet'), 100);
    expect(none).toEqual([]);
    expect((await readParquet(join(dir, 'empty.parquet'))).rows).toEqual([]);
  });

  it('npm run verify prints JSON and exits 0 when green, 1 when red', async () => {
    // Act: green
    const green = await cli('verify.ts', ['--json']);
    // Act: red (the 1day rollup emptied)
    await pg.db.query('TRUNCATE telemetry_1day');
    const red = await cli('verify.ts', []);
    // Act: the documented rebuild (only touched buckets are recomputed, so reset the watermark)
    await pg.db.query(`UPDATE maintenance_watermarks SET ingested_through = '-infinity' WHERE task = 'rollups'`);
    await runMaintenance(pg.db);
    // Assess
    expect(green.code, green.stderr).toBe(0);
    expect(JSON.parse(green.stdout)).toMatchObject({ engine: 'plain', status: expect.stringMatching(/^(ok|warn)$/) });
    expect(red.code).toBe(1);
    expect(red.stdout).toMatch(/tapline verify: RED/);
    expect(red.stdout).toMatch(/RED\s+rows telemetry_1day\s+telemetry_1day is empty/);
    expect(await count('SELECT count(*)::int AS n FROM telemetry_1day')).toBeGreaterThan(0);
  });

  it('npm run export writes a Parquet file hyparquet reads, and fails with a clear message and no file on bad input', async () => {
    const out = join(dir, 'cli.parquet');
    const ok = await cli('export.ts', ['--grain', '1min', '--since-hours', '168', '--out', out, '--source', 'FBE_06']);
    const bad = await cli('export.ts', ['--grain', 'weekly', '--out', join(dir, 'bad.parquet')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/wrote [\d,]+ 1min rows/);
    expect((await readParquet(out)).rows.length).toBe(await count(`SELECT count(*)::int AS n FROM telemetry_1min WHERE source = 'FBE_06'`));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--grain must be one of raw, 1min, 1h, 1day/);
    await expect(stat(join(dir, 'bad.parquet'))).rejects.toThrow();
  });

  it('npm run retention replaces the setting, and refuses one that would erase aggregates', async () => {
    const ok = await cli('retention.ts', ['--days', '10']);
    const refused = await cli('retention.ts', ['--days', '2', '--table', '1min']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await readRetention(pg.db)).raw).toBe(10);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/1min retention \(2 days\) must be at least the raw retention \(10 days\)/);
    await setRetention(pg.db, 'raw', 7);
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
