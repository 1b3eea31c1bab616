import { describe, expect, it } from 'vitest';
import { check, worst } from '#core/warehouse/health';
import { parseVersion, serverProblem } from '#core/warehouse/serverSupport';
import { jobCheck, type PolicyJob } from '#core/warehouse/storage';
import { progressBar } from '../../ops/cli/progress.ts';
import { listFlag, UsageError } from '../../local/cli/run.ts';
import { formatOf, isoToMicros } from '../../ops/cli/sinks.ts';
import { microsToIso } from '../timescale/warehouseFixtures.ts';

describe('warehouse operator helpers', () => {
  it('keeps the microseconds of an export timestamp in Parquet, which Date would cut to milliseconds', () => {
    const iso = '2026-11-22T20:18:58.263461Z';
    expect(isoToMicros(iso)).toBe(1_795_378_738_263_461n);
    expect(microsToIso(isoToMicros(iso))).toBe(iso);
    expect(() => isoToMicros('2026-11-22 20:18:58+00')).toThrow(/not an export timestamp/);
  });

  it('picks the export format from the file name and refuses others', () => {
    expect(formatOf('out/x.CSV')).toBe('csv');
    expect(formatOf('x.parquet')).toBe('parquet');
    expect(() => formatOf('x.json')).toThrow(UsageError);
  });

  it('accepts repeated and comma-separated list flags', () => {
    expect(listFlag(['FBE_01,FBE_02', ' FBE_03 ', ''])).toEqual(['FBE_01', 'FBE_02', 'FBE_03']);
    expect(listFlag(undefined)).toEqual([]);
  });

  it('reports the worst check: any red makes the whole verify red', () => {
    expect(worst([check('a', 'ok', ''), check('b', 'warn', '')])).toBe('warn');
    expect(worst([check('a', 'warn', ''), check('b', 'red', ''), check('c', 'ok', '')])).toBe('red');
    expect(worst([])).toBe('ok');
  });

  it('prints progress every 10 % when stderr is not a terminal, and the final line once', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const bar = progressBar('export raw', 1_000, stream);
    for (let done = 100; done <= 1_000; done += 50) bar.update(done);
    bar.finish(1_000);
    expect(lines).toHaveLength(10);
    expect(lines.at(-1)).toMatch(/^export raw \[#{30}\] 100% 1,000\/1,000 rows/);
  });

  it('accepts TimescaleDB 2.19 and later, refuses older ones and PostgreSQL before 14 with what to do', () => {
    expect(parseVersion('2.23.0-dev')).toEqual([2, 23, 0]);
    expect(parseVersion('2.19')).toEqual([2, 19, 0]);
    expect(parseVersion('dev')).toBeNull();
    expect(serverProblem('timescale', 170_005, '2.19.0')).toBeNull();
    expect(serverProblem('timescale', 150_020, '2.28.3')).toBeNull();
    expect(serverProblem('timescale', 170_005, '3.0.0')).toBeNull();
    expect(serverProblem('timescale', 170_005, '2.18.2')).toMatch(/^TimescaleDB 2\.18\.2 is installed, but tapline needs 2\.19\.0 or later .*ALTER EXTENSION timescaledb UPDATE/);
    expect(serverProblem('timescale', 170_005, '1.7.5')).toMatch(/needs 2\.19\.0/);
    expect(serverProblem('plain', 180_004, null)).toBeNull();
    expect(serverProblem('plain', 130_015, null)).toBe('PostgreSQL 13 is too old: tapline needs PostgreSQL 14 or later');
  });

  it('judges a policy job by its schedule: paused, failed (when and why), overdue, or fine', () => {
    const now = new Date('2026-11-22T12:00:00Z');
    const job = (o: Partial<PolicyJob>): PolicyJob => ({
      jobId: 7,
      kind: 'refresh',
      target: 'telemetry_1min',
      scheduleInterval: '00:01:00',
      scheduleMs: 60_000,
      setting: null,
      scheduled: true,
      lastRunStatus: 'Success',
      lastRunStartedAt: '2026-11-22T11:59:00Z',
      lastSuccessfulFinish: '2026-11-22T11:59:01Z',
      nextStart: '2026-11-22T12:00:01Z',
      lastFailure: null,
      totalFailures: 0,
      running: false,
      ...o,
    });
    expect(jobCheck(job({}), now)).toBeNull();
    // due at 11:59:01 + 1 min; red once more than one interval and 5 minutes late
    expect(jobCheck(job({ lastSuccessfulFinish: '2026-11-22T11:53:00Z' }), now)).toBeNull();
    expect(jobCheck(job({ lastSuccessfulFinish: '2026-11-22T11:52:59Z' }), now)?.status).toBe('red');
    expect(jobCheck(job({ lastSuccessfulFinish: '2026-11-22T11:00:00Z', running: true }), now)?.status).toBe('warn');
    // never ran: judged by its first start
    expect(jobCheck(job({ lastSuccessfulFinish: null, lastRunStatus: null, nextStart: '2026-11-22T11:50:00Z' }), now)?.detail).toBe(
      'refresh policy on telemetry_1min is overdue: never succeeded, runs every 00:01:00, first run was due 2026-11-22T11:50:00Z' +
        ' (is the TimescaleDB scheduler running, with enough timescaledb.max_background_workers?)',
    );
    expect(jobCheck(job({ lastSuccessfulFinish: null, lastRunStatus: null, nextStart: null }), now)).toBeNull();
    expect(jobCheck(job({ scheduled: false }), now)?.detail).toMatch(/is paused \(scheduled => false\), last success .*: run npm run maintenance -- --repair$/);
    expect(
      jobCheck(job({ lastRunStatus: 'Failed', lastFailure: { at: '2026-11-22T11:59:30Z', message: 'cannot drop portal "" while it is being set up' }, totalFailures: 3 }), now)
        ?.detail,
    ).toBe(
      'refresh policy on telemetry_1min: last run failed at 2026-11-22T11:59:30Z: cannot drop portal "" while it is being set up (3 failures, last success 2026-11-22T11:59:01Z)',
    );
  });
});
