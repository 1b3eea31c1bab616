import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MigrationError } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { runMaintenance } from '#core/warehouse/maintenance';
import { collectWarehouseStatus, type WarehouseStatus } from '#core/warehouse/verify';
import { renderVerifyReport } from '../../ops/cli/verifyReport.ts';
import { startTimescale, type TimescaleTestDb } from '../helpers/pglite.ts';
import { generateTelemetry, hoursAgo, insertTelemetry } from './warehouseFixtures.ts';
import { jobFor, runPolicyJobs } from './warehouseJobs.ts';

// verify against jobs that do not run, and the repair. `runJob` stands in for the scheduler and
// records each run as it does (helpers/pglite.ts); a stopped scheduler is a clock moved past the
// jobs' schedules. Each test starts from a warehouse whose jobs all just ran.
let tsdb: TimescaleTestDb;
const NO_QUEUES = { skipped: 'not checked', checks: [] };
const red = (s: WarehouseStatus) => s.checks.filter((c) => c.status === 'red');

beforeAll(async () => {
  tsdb = await startTimescale();
  await migrate(tsdb.db, await readMigrations('migrations'));
});
afterAll(async () => {
  await tsdb?.close();
});

/** Fresh data, every job run by the scheduler, a maintenance run: green. */
async function healthy(): Promise<WarehouseStatus> {
  await insertTelemetry(tsdb.db, generateTelemetry({ sources: ['JOBS_A'], from: hoursAgo(2), to: hoursAgo(0.2), stepSeconds: 120, seed: Date.now() % 1000 }));
  await runPolicyJobs(tsdb);
  await runMaintenance(tsdb.db);
  return collectWarehouseStatus(tsdb.db);
}

describe('TimescaleDB jobs: verify sees jobs that do not run, npm run maintenance -- --repair restores them', () => {
  it('is green while every job runs on its schedule', async () => {
    const status = await healthy();
    expect(red(status)).toEqual([]);
    expect(status.storage?.kind === 'hypertable' && status.storage.jobs.every((j) => j.lastRunStatus === 'Success')).toBe(true);
  });

  it('turns red for a paused job (scheduled => false), naming the repair, which re-enables it', async () => {
    // Prepare
    await healthy();
    const job = await jobFor(tsdb, 'policy_refresh_continuous_aggregate', 'telemetry_1h');
    // Act
    await tsdb.db.query('SELECT alter_job($1, scheduled => false)', [job.job_id]);
    const paused = await collectWarehouseStatus(tsdb.db);
    const plain = await runMaintenance(tsdb.db);
    const repaired = await runMaintenance(tsdb.db, { repair: true });
    // Assess
    expect(red(paused)).toEqual([
      {
        name: `job ${job.job_id}`,
        status: 'red',
        detail: expect.stringMatching(/^refresh policy on telemetry_1h is paused \(scheduled => false\), last success .*: run npm run maintenance -- --repair$/),
      },
    ]);
    expect(plain.policies).toEqual([expect.objectContaining({ jobId: job.job_id, action: 'paused' })]);
    expect(repaired.policies).toEqual([expect.objectContaining({ jobId: job.job_id, action: 'enabled' })]);
    expect((await jobFor(tsdb, 'policy_refresh_continuous_aggregate', 'telemetry_1h')).scheduled).toBe(true);
    expect(red(await healthy())).toEqual([]);
  });

  it('turns red when a job is overdue against its schedule (a scheduler that stopped)', async () => {
    // Prepare: every job just ran
    await healthy();
    const oneMinute = await jobFor(tsdb, 'policy_refresh_continuous_aggregate', 'telemetry_1min');
    // Act: verify 20 minutes later, with no job run in between
    const later = await collectWarehouseStatus(tsdb.db, { now: new Date(Date.now() + 20 * 60_000) });
    // Assess: the 1-minute refresh is red (the 10-minute and hourly ones are not overdue yet)
    expect(red(later).filter((c) => c.name.startsWith('job '))).toEqual([
      {
        name: `job ${oneMinute.job_id}`,
        status: 'red',
        detail: expect.stringMatching(/^refresh policy on telemetry_1min is overdue: last success \S+, runs every 00:01:00 \(is the TimescaleDB scheduler running/),
      },
    ]);
  });

  it("shows the failing job's error message and the time of the failed run, not its last success", async () => {
    // Prepare: new rows for the 1h refresh, then a function it calls made to fail (the 1min refresh ran first)
    await healthy();
    const job = await jobFor(tsdb, 'policy_refresh_continuous_aggregate', 'telemetry_1h');
    await insertTelemetry(tsdb.db, generateTelemetry({ sources: ['JOBS_B'], from: hoursAgo(3), to: hoursAgo(2), stepSeconds: 120 }));
    await tsdb.runJob((await jobFor(tsdb, 'policy_refresh_continuous_aggregate', 'telemetry_1min')).job_id);
    const {
      rows: [fn],
    } = await tsdb.db.query<{ def: string }>(`SELECT pg_get_functiondef('warehouse_counter_final'::regproc) AS def`);
    await tsdb.db.exec(`CREATE OR REPLACE FUNCTION warehouse_counter_final(s double precision[]) RETURNS double precision
      LANGUAGE plpgsql IMMUTABLE STRICT AS $$ BEGIN RAISE EXCEPTION 'simulated disk failure'; END $$`);
    try {
      // Act
      await expect(tsdb.runJob(job.job_id)).rejects.toThrow(/simulated disk failure/);
    } finally {
      await tsdb.db.exec(fn?.def ?? '');
    }
    const status = await collectWarehouseStatus(tsdb.db);
    // Assess
    const {
      rows: [failed],
    } = await tsdb.db.query<{ at: string }>(
      `SELECT to_json(start_time)#>>'{}' AS at FROM timescaledb_information.job_history WHERE job_id = $1 AND NOT succeeded ORDER BY id DESC LIMIT 1`,
      [job.job_id],
    );
    const at = (failed?.at ?? '').replace(/[.+]/g, '\\$&');
    const check = red(status).find((c) => c.name === `job ${job.job_id}`);
    expect(check?.detail).toMatch(new RegExp(`^refresh policy on telemetry_1h: last run failed at ${at}: simulated disk failure \\(1 failures, last success `));
    const report = renderVerifyReport('test', status, NO_QUEUES, status.status);
    expect(report).toMatch(new RegExp(`${job.job_id} +refresh +telemetry_1h .* Failed at ${at}: simulated disk failure \\(last success `));
    expect(red(await healthy())).toEqual([]);
  });

  it("repairs a removed columnstore policy with npm run maintenance -- --repair, which verify's red line names", async () => {
    // Prepare
    await healthy();
    await tsdb.db.exec(`CALL remove_columnstore_policy('telemetry_events')`);
    // Act
    const broken = await collectWarehouseStatus(tsdb.db);
    const plain = await runMaintenance(tsdb.db);
    const repaired = await runMaintenance(tsdb.db, { repair: true });
    // Assess
    expect(red(broken)).toEqual([
      {
        name: 'compression policy telemetry_events',
        status: 'red',
        detail: 'missing: compression policy on telemetry_events (run npm run maintenance -- --repair)',
      },
    ]);
    expect(plain.policies).toEqual([expect.objectContaining({ action: 'missing', policy: 'columnstore', target: 'telemetry_events' })]);
    expect(repaired.policies).toEqual([expect.objectContaining({ action: 'added', policy: 'columnstore', target: 'telemetry_events' })]);
    expect((await jobFor(tsdb, 'policy_compression', 'telemetry_events')).config.compress_after).toBe('1 day');
    expect(red(await healthy())).toEqual([]);
  });

  it('refuses to migrate onto TimescaleDB older than 2.19, before changing anything, with a clear error', async () => {
    // Prepare: a fresh database that reports the extension as a 2.18 server does. Only that one
    // answer is replaced (no 2.18 build exists here, and changing pg_extension makes TimescaleDB
    // stop the backend); everything else is the real database.
    const old = await startTimescale();
    try {
      const as218 = {
        ...old.db,
        query: async <R extends object>(text: string, params?: unknown[]) =>
          text.includes('server_version_num') ? { rows: [{ num: 170005, timescaledb: '2.18.2' }] as unknown as R[] } : old.db.query<R>(text, params),
      };
      // Act
      const attempt = migrate(as218, await readMigrations('migrations'));
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(MigrationError);
      await expect(attempt).rejects.toThrow(/^TimescaleDB 2\.18\.2 is installed, but tapline needs 2\.19\.0 or later .*ALTER EXTENSION timescaledb UPDATE/);
      const { rows } = await old.db.query<{ t: string | null; m: string | null }>(`SELECT to_regclass('telemetry_events')::text AS t, to_regclass('schema_migrations')::text AS m`);
      expect(rows).toEqual([{ t: null, m: null }]);
    } finally {
      await old.close();
    }
  });
});
