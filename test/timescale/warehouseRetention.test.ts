import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { runMaintenance } from '#core/warehouse/maintenance';
import { applyPolicies } from '#core/warehouse/policies';
import { readRetention, RetentionError, setRetention } from '#core/warehouse/retention';
import { startTimescale, type TimescaleTestDb } from '../helpers/pglite.ts';
import { directAggregate, generateTelemetry, hoursAgo, insertTelemetry, saveRetention, storedAggregate, type AggregateRow } from './warehouseFixtures.ts';
import { jobFor, policyJobs, refreshAll, type PolicyJobRow } from './warehouseJobs.ts';

// Retention changes on TimescaleDB, with `CALL run_job` standing in for the scheduler, on a
// database of their own (they drop chunks). Every test puts warehouse_retention back, keep_days
// and dropped_before, and the policies with it.
let tsdb: TimescaleTestDb;
let restoreRetention: () => Promise<void>;
const GRAINS = ['telemetry_1min', 'telemetry_1h', 'telemetry_1day'] as const;
const aggregates = (source: string): Promise<AggregateRow[][]> => Promise.all(GRAINS.map((t) => storedAggregate(tsdb.db, t, [source])));
const byTarget = (jobs: PolicyJobRow[]) => Object.fromEntries(jobs.map((j) => [`${j.proc_name} ${j.target}`, j]));

beforeAll(async () => {
  tsdb = await startTimescale();
  await migrate(tsdb.db, await readMigrations('migrations'));
  restoreRetention = await saveRetention(tsdb.db);
});
afterEach(async () => {
  await restoreRetention();
  await applyPolicies(tsdb.db, { repair: true });
});
afterAll(async () => {
  await tsdb?.close();
});

describe('TimescaleDB retention changes', () => {
  it('keeps every aggregate row whose raw rows were dropped when raw retention goes to 1 day and back to 7 (retention --days 1, then --days 7)', async () => {
    // Prepare: RET_A from just inside the old 2-day 1min window to 24.5 hours back, materialized
    // under the default 7 days. Rows before the UTC midnight ahead of now - 24 h lie in 1-day
    // chunks that a 1-day retention drops; starting at now - 47 h 58 min keeps such rows at any
    // time of day (starting at 47.5 h missed them between 23:30 and 24:00 UTC).
    const rows = generateTelemetry({ sources: ['RET_A'], from: hoursAgo(47 + 58 / 60), to: hoursAgo(24.5), stepSeconds: 120 });
    await insertTelemetry(tsdb.db, rows);
    await refreshAll(tsdb);
    const before = await aggregates('RET_A');
    expect(before[0]).toEqual(await directAggregate(tsdb.db, '1 minute', ['RET_A']));
    const retentionJob = (await jobFor(tsdb, 'policy_retention', 'telemetry_events')).job_id;
    // Act: --days 1, the retention job drops the chunks (recording an invalidation), the refreshes run
    await setRetention(tsdb.db, 'raw', 1);
    await tsdb.runJob(retentionJob);
    const {
      rows: [left],
    } = await tsdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM telemetry_events WHERE source = 'RET_A'`);
    expect(left?.n).toBeLessThan(rows.length);
    await refreshAll(tsdb);
    // Act: --days 7; every refresh, then maintenance (which widens the windows as time passes), again
    await setRetention(tsdb.db, 'raw', 7);
    await refreshAll(tsdb);
    await runMaintenance(tsdb.db);
    await refreshAll(tsdb);
    // Assess: every aggregate row is still there; the same job ids throughout
    expect(await aggregates('RET_A')).toEqual(before);
    expect(before.every((rows) => rows.length > 0)).toBe(true);
    expect((await jobFor(tsdb, 'policy_retention', 'telemetry_events')).job_id).toBe(retentionJob);
    // no refresh window, and no reading ingest accepts, reaches before the day the 1-day setting kept
    const {
      rows: [h],
    } = await tsdb.db.query<{ window_inside: boolean; ingest_inside: boolean }>(
      `WITH kept AS (SELECT date_bin(INTERVAL '1 day', now() - INTERVAL '1 day', TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day)
       SELECT now() - (j.config->>'start_offset')::interval >= kept.day AS window_inside, warehouse_ingest_horizon() >= kept.day AS ingest_inside
       FROM timescaledb_information.jobs j, kept
       WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND j.hypertable_name = 'telemetry_1min'`,
    );
    expect(h).toEqual({ window_inside: true, ingest_inside: true });
  });

  it('never lets a 1h or 1day refresh reach 1min rows that a shorter 1min retention dropped', async () => {
    // Act: 1min to 3 days (raw first: 1min keeps at least as long), then back to 30
    await setRetention(tsdb.db, 'raw', 3);
    await setRetention(tsdb.db, '1min', 3);
    await setRetention(tsdb.db, '1min', 30);
    // Assess: the 1h and 1day windows start after the start of the day 3 days back (what the 3-day
    // setting may have dropped), where the old rebuild gave the 1day refresh 7 days
    const { rows } = await tsdb.db.query<{ view: string; inside: boolean }>(
      `SELECT j.hypertable_name AS view,
              now() - (j.config->>'start_offset')::interval >= date_bin(INTERVAL '1 day', now() - INTERVAL '3 days', TIMESTAMPTZ '2000-01-01 00:00:00+00') AS inside
       FROM timescaledb_information.jobs j
       WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND j.hypertable_name IN ('telemetry_1h', 'telemetry_1day') ORDER BY 1`,
    );
    expect(rows).toEqual([
      { view: 'telemetry_1day', inside: true },
      { view: 'telemetry_1h', inside: true },
    ]);
  });

  it('changes only the jobs a new setting changes, in place, and staggers the jobs it has to add', async () => {
    // Prepare
    const before = byTarget(await policyJobs(tsdb));
    // Act: 1h retention to 400 days
    await setRetention(tsdb.db, '1h', 400);
    const after1h = byTarget(await policyJobs(tsdb));
    // Assess: the 1h retention job altered in place; every other job as it was (id, config, next start)
    expect(after1h['policy_retention telemetry_1h']).toMatchObject({
      job_id: before['policy_retention telemetry_1h']?.job_id,
      config: { drop_after: '400 days' },
    });
    const unchanged = (a: Record<string, PolicyJobRow>, keys: string[]) => keys.map((k) => a[k]);
    const others = Object.keys(before).filter((k) => k !== 'policy_retention telemetry_1h');
    expect(unchanged(after1h, others)).toEqual(unchanged(before, others));
    // Act: raw to 3 days: its retention and the refresh windows move, nothing else
    await setRetention(tsdb.db, 'raw', 3);
    const afterRaw = byTarget(await policyJobs(tsdb));
    const untouched = ['policy_compression telemetry_events', 'policy_retention telemetry_1min', 'policy_retention telemetry_1h'];
    expect(unchanged(afterRaw, untouched)).toEqual(unchanged(after1h, untouched));
    expect(
      Object.values(afterRaw)
        .map((j) => j.job_id)
        .sort(),
    ).toEqual(
      Object.values(before)
        .map((j) => j.job_id)
        .sort(),
    );
    expect(afterRaw['policy_retention telemetry_events']?.config.drop_after).toBe('3 days');
    expect(afterRaw['policy_refresh_continuous_aggregate telemetry_1min']?.config.start_offset).toBe('2 days 23:00:00');
    // Act: two policies gone; the repair adds them back
    await tsdb.db.query(`SELECT remove_retention_policy('telemetry_1h')`);
    await tsdb.db.query(`SELECT remove_continuous_aggregate_policy('telemetry_1h')`);
    const changes = await applyPolicies(tsdb.db, { repair: true });
    // Assess: added with first runs 20 s apart, in the future
    expect(changes.map((c) => `${c.action} ${c.policy} ${c.target}`).sort()).toEqual(['added refresh telemetry_1h', 'added retention telemetry_1h']);
    const readded = (await policyJobs(tsdb)).filter((j) => j.target === 'telemetry_1h');
    const starts = readded.map((j) => Date.parse(j.next_start ?? '')).sort();
    expect(starts[0]).toBeGreaterThan(Date.now());
    expect((starts[1] ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(20_000);
  });

  it('refuses settings that would let a refresh erase aggregates, and changes nothing then', async () => {
    const before = await policyJobs(tsdb);
    await expect(setRetention(tsdb.db, '1min', 2)).rejects.toBeInstanceOf(RetentionError);
    await expect(setRetention(tsdb.db, '1h', 5)).rejects.toThrow(/1h retention/);
    expect((await readRetention(tsdb.db))['1min']).toBe(30);
    expect(await policyJobs(tsdb)).toEqual(before);
  });
});
