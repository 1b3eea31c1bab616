import type { SqlSession } from '../db/session.ts';
import { check, type Check } from './health.ts';
import type { RetentionSettings } from './retention.ts';

/**
 * How telemetry is stored and kept, per engine: the hypertable and its policies (TimescaleDB), or
 * the daily partitions (plain PostgreSQL). Each inspection returns facts plus the checks on them.
 */

export interface PolicyJob {
  jobId: number;
  kind: 'compression' | 'retention' | 'refresh';
  target: string;
  scheduleInterval: string;
  scheduleMs: number;
  /** retention: drop_after in days; refresh: start offset */
  setting: string | null;
  /** false: paused (alter_job ... scheduled => false) */
  scheduled: boolean;
  lastRunStatus: string | null;
  lastRunStartedAt: string | null;
  lastSuccessfulFinish: string | null;
  nextStart: string | null;
  /** the latest failed run after the last success (timescaledb_information.job_history) */
  lastFailure: { at: string; message: string } | null;
  totalFailures: number | null;
  running: boolean;
}

export interface HypertableStorage {
  kind: 'hypertable';
  chunkInterval: string | null;
  chunks: number;
  compressedChunks: number;
  columnstore: boolean;
  realTimeAggregates: Record<string, boolean>;
  jobs: PolicyJob[];
}

export interface PartitionStorage {
  kind: 'partitions';
  partitions: number;
  firstDay: string | null;
  lastDay: string | null;
  defaultPartitionRows: number;
}

const KIND: Record<string, PolicyJob['kind']> = {
  policy_compression: 'compression',
  policy_retention: 'retention',
  policy_refresh_continuous_aggregate: 'refresh',
};

const AGGREGATES = ['telemetry_1min', 'telemetry_1h', 'telemetry_1day'] as const;
const REPAIR = 'npm run maintenance -- --repair';
/** A job is overdue when its next run is this late (on top of one schedule interval). */
const OVERDUE_GRACE_MS = 5 * 60_000;
const RETENTION_TARGET: Record<string, keyof RetentionSettings> = {
  telemetry_events: 'raw',
  telemetry_1min: '1min',
  telemetry_1h: '1h',
  telemetry_1day: '1day',
};

export async function inspectHypertable(db: SqlSession, now: Date, retention: RetentionSettings | null): Promise<{ storage: HypertableStorage; checks: Check[] }> {
  const { rows: ht } = await db.query<{ chunks: number; compressed: number; columnstore: boolean; chunk_interval: string | null }>(
    `SELECT h.num_chunks AS chunks, h.compression_enabled AS columnstore,
            (SELECT count(*)::int FROM timescaledb_information.chunks c
              WHERE c.hypertable_name = h.hypertable_name AND c.is_compressed) AS compressed,
            (SELECT d.time_interval::text FROM timescaledb_information.dimensions d
              WHERE d.hypertable_name = h.hypertable_name AND d.column_name = 'ts') AS chunk_interval
     FROM timescaledb_information.hypertables h WHERE h.hypertable_name = 'telemetry_events'`,
  );
  const { rows: caggs } = await db.query<{ view_name: string; materialized_only: boolean }>(
    'SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates',
  );
  const { rows: jobRows } = await db.query<{
    job_id: number;
    proc_name: string;
    target: string;
    schedule_interval: string;
    schedule_ms: number;
    setting: string | null;
    drop_after_days: number | null;
    scheduled: boolean;
    last_run_status: string | null;
    last_run_started_at: string | null;
    last_successful_finish: string | null;
    next_start: string | null;
    failed_at: string | null;
    failure: string | null;
    total_failures: number | null;
    running: boolean;
  }>(
    `SELECT j.job_id, j.proc_name, j.hypertable_name AS target, j.schedule_interval::text AS schedule_interval,
            extract(epoch FROM j.schedule_interval)::float8 * 1000 AS schedule_ms,
            coalesce(j.config->>'drop_after', j.config->>'start_offset', j.config->>'compress_after') AS setting,
            CASE WHEN j.proc_name = 'policy_retention'
                 THEN extract(epoch FROM (j.config->>'drop_after')::interval)::float8 / 86400 END AS drop_after_days,
            j.scheduled, s.last_run_status, to_json(s.last_run_started_at)#>>'{}' AS last_run_started_at,
            to_json(nullif(s.last_successful_finish, '-infinity'))#>>'{}' AS last_successful_finish,
            to_json(coalesce(s.next_start, j.next_start))#>>'{}' AS next_start,
            to_json(f.start_time)#>>'{}' AS failed_at, f.err_message AS failure,
            s.total_failures::int AS total_failures, coalesce(s.job_status = 'Running', false) AS running
     FROM timescaledb_information.jobs j
     LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
     LEFT JOIN LATERAL (
       SELECT h.start_time, h.err_message FROM timescaledb_information.job_history h
       WHERE h.job_id = j.job_id AND h.succeeded IS NOT TRUE
         AND h.start_time >= coalesce(s.last_successful_finish, '-infinity'::timestamptz)
       ORDER BY h.start_time DESC LIMIT 1) f ON true
     WHERE j.proc_name IN ('policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate')
     ORDER BY j.job_id`,
  );
  const jobs: PolicyJob[] = jobRows.map((j) => ({
    jobId: j.job_id,
    kind: KIND[j.proc_name] ?? 'refresh',
    target: j.target,
    scheduleInterval: j.schedule_interval,
    scheduleMs: j.schedule_ms,
    setting: j.setting,
    scheduled: j.scheduled,
    lastRunStatus: j.last_run_status,
    lastRunStartedAt: j.last_run_started_at,
    lastSuccessfulFinish: j.last_successful_finish,
    nextStart: j.next_start,
    lastFailure: j.failed_at ? { at: j.failed_at, message: j.failure ?? 'no error message recorded' } : null,
    totalFailures: j.total_failures,
    running: j.running,
  }));
  const h = ht[0];
  const realTime = Object.fromEntries(caggs.map((c) => [c.view_name, !c.materialized_only]));
  const checks: Check[] = [];
  checks.push(
    h
      ? check('hypertable', 'ok', `telemetry_events: ${h.chunks} chunks (${h.compressed} compressed), chunk interval ${h.chunk_interval ?? '?'}`)
      : check('hypertable', 'red', 'telemetry_events is not a hypertable'),
  );
  checks.push(
    h?.columnstore
      ? check('columnstore', 'ok', 'enabled, segmented by source, fact_name')
      : check('columnstore', 'red', 'columnstore (compression) is not enabled on telemetry_events'),
  );
  const has = (kind: PolicyJob['kind'], target: string) => jobs.filter((j) => j.kind === kind && j.target === target);
  const expectPolicy = (kind: PolicyJob['kind'], target: string) => {
    const found = has(kind, target);
    checks.push(
      found.length
        ? check(
            `${kind} policy ${target}`,
            'ok',
            `job ${found.map((j) => j.jobId).join(',')} every ${found[0]?.scheduleInterval}${found[0]?.setting ? `, ${found[0].setting}` : ''}`,
          )
        : check(`${kind} policy ${target}`, 'red', `missing: ${kind} policy on ${target} (run ${REPAIR})`),
    );
  };
  expectPolicy('compression', 'telemetry_events');
  for (const view of AGGREGATES) {
    const present = view in realTime;
    if (!present) checks.push(check(`aggregate ${view}`, 'red', `continuous aggregate ${view} is missing`));
    else if (!realTime[view]) checks.push(check(`aggregate ${view}`, 'warn', `${view} has real-time aggregation off (materialized_only)`));
    expectPolicy('refresh', view);
  }
  if (retention) {
    for (const [target, grain] of Object.entries(RETENTION_TARGET)) {
      const days = retention[grain];
      const found = jobRows.filter((j) => j.proc_name === 'policy_retention' && j.target === target);
      if (days === null) {
        if (found.length) checks.push(check(`retention policy ${target}`, 'warn', `setting says keep forever, but a retention policy exists (npm run maintenance removes it)`));
        continue;
      }
      if (!found.length) checks.push(check(`retention policy ${target}`, 'red', `missing: retention policy on ${target} (setting: ${days} days; run ${REPAIR})`));
      else if (found.some((j) => j.drop_after_days !== days)) {
        checks.push(check(`retention policy ${target}`, 'warn', `policy drops after ${found[0]?.setting}, setting says ${days} days (npm run maintenance brings it in line)`));
      } else checks.push(check(`retention policy ${target}`, 'ok', `drop after ${days} days`));
    }
  }
  for (const j of jobs) {
    const c = jobCheck(j, now);
    if (c) checks.push(c);
  }
  return {
    storage: {
      kind: 'hypertable',
      chunkInterval: h?.chunk_interval ?? null,
      chunks: h?.chunks ?? 0,
      compressedChunks: h?.compressed ?? 0,
      columnstore: h?.columnstore ?? false,
      realTimeAggregates: realTime,
      jobs,
    },
    checks,
  };
}

/**
 * A job that does not do its work: paused, failed (with the failed run's time and message), or
 * overdue against its schedule (next run more than an interval and 5 minutes late: a stopped
 * scheduler, too few background workers). null when the job is fine or has no run to judge yet.
 */
export function jobCheck(j: PolicyJob, now: Date): Check | null {
  const name = `job ${j.jobId}`;
  const what = `${j.kind} policy on ${j.target}`;
  const lastOk = j.lastSuccessfulFinish ? `last success ${j.lastSuccessfulFinish}` : 'never succeeded';
  if (!j.scheduled) return check(name, 'red', `${what} is paused (scheduled => false), ${lastOk}: run ${REPAIR}`);
  if (j.lastRunStatus === 'Failed') {
    const failure = j.lastFailure ? `last run failed at ${j.lastFailure.at}: ${j.lastFailure.message}` : `last run (started ${j.lastRunStartedAt ?? '?'}) failed`;
    return check(name, 'red', `${what}: ${failure} (${j.totalFailures ?? '?'} failures, ${lastOk})`);
  }
  const intervalMs = j.scheduleMs;
  const due = j.lastSuccessfulFinish ? Date.parse(j.lastSuccessfulFinish) + intervalMs : j.nextStart ? Date.parse(j.nextStart) : null;
  if (due === null || now.getTime() <= due + intervalMs + OVERDUE_GRACE_MS) return null;
  const detail = `${what} is overdue: ${lastOk}, runs every ${j.scheduleInterval}` + (j.lastSuccessfulFinish ? '' : `, first run was due ${j.nextStart}`);
  return j.running
    ? check(name, 'warn', `${detail}; it is running now`)
    : check(name, 'red', `${detail} (is the TimescaleDB scheduler running, with enough timescaledb.max_background_workers?)`);
}

const dayOf = (name: string) => `${name.slice(-8, -4)}-${name.slice(-4, -2)}-${name.slice(-2)}`;

export async function inspectPartitions(db: SqlSession, now: Date, retention: RetentionSettings | null): Promise<{ storage: PartitionStorage; checks: Check[] }> {
  const { rows } = await db.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'telemetry_events'::regclass ORDER BY c.relname`,
  );
  const names = rows.map((r) => r.relname);
  const days = names
    .filter((n) => /^telemetry_events_p\d{8}$/.test(n))
    .map(dayOf)
    .sort();
  const hasDefault = names.includes('telemetry_events_default');
  const defaultRows = hasDefault ? ((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry_events_default')).rows[0]?.n ?? 0) : 0;
  const day = (offsetDays: number) => new Date(now.getTime() + offsetDays * 86_400_000).toISOString().slice(0, 10);
  const checks: Check[] = [];
  checks.push(
    days.includes(day(0))
      ? check('partition today', 'ok', `telemetry_events_p${day(0).replaceAll('-', '')} exists`)
      : check('partition today', 'red', `no partition for today (${day(0)}): rows land in the default partition; run maintenance`),
  );
  checks.push(
    days.includes(day(1))
      ? check('partition ahead', 'ok', `partitions through ${days.at(-1)}`)
      : check('partition ahead', 'warn', `no partition for tomorrow (${day(1)}): maintenance has not run today`),
  );
  if (defaultRows > 0) {
    checks.push(check('default partition', 'warn', `${defaultRows} rows in telemetry_events_default (days without a partition); maintenance moves or expires them`));
  }
  if (retention?.raw && days[0] && days[0] < day(-(retention.raw + 1))) {
    checks.push(check('partition retention', 'warn', `oldest partition ${days[0]} is past the ${retention.raw}-day retention: maintenance is not dropping`));
  }
  return {
    storage: { kind: 'partitions', partitions: days.length, firstDay: days[0] ?? null, lastDay: days.at(-1) ?? null, defaultPartitionRows: defaultRows },
    checks,
  };
}
