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
  /** retention: drop_after in days; refresh: start offset */
  setting: string | null;
  lastRunStatus: string | null;
  lastSuccessfulFinish: string | null;
  totalFailures: number | null;
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
const RETENTION_TARGET: Record<string, keyof RetentionSettings> = {
  telemetry_events: 'raw',
  telemetry_1min: '1min',
  telemetry_1h: '1h',
  telemetry_1day: '1day',
};

export async function inspectHypertable(db: SqlSession, retention: RetentionSettings | null): Promise<{ storage: HypertableStorage; checks: Check[] }> {
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
    job_id: number; proc_name: string; target: string; schedule_interval: string; setting: string | null;
    drop_after_days: number | null; last_run_status: string | null; last_successful_finish: string | null; total_failures: number | null;
  }>(
    `SELECT j.job_id, j.proc_name, j.hypertable_name AS target, j.schedule_interval::text AS schedule_interval,
            coalesce(j.config->>'drop_after', j.config->>'start_offset', j.config->>'compress_after') AS setting,
            CASE WHEN j.proc_name = 'policy_retention'
                 THEN extract(epoch FROM (j.config->>'drop_after')::interval)::float8 / 86400 END AS drop_after_days,
            s.last_run_status, s.last_successful_finish::text AS last_successful_finish, s.total_failures::int AS total_failures
     FROM timescaledb_information.jobs j
     LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
     WHERE j.proc_name IN ('policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate')
     ORDER BY j.job_id`,
  );
  const jobs: PolicyJob[] = jobRows.map((j) => ({
    jobId: j.job_id,
    kind: KIND[j.proc_name] ?? 'refresh',
    target: j.target,
    scheduleInterval: j.schedule_interval,
    setting: j.setting,
    lastRunStatus: j.last_run_status,
    lastSuccessfulFinish: j.last_successful_finish,
    totalFailures: j.total_failures,
  }));
  const h = ht[0];
  const realTime = Object.fromEntries(caggs.map((c) => [c.view_name, !c.materialized_only]));
  const checks: Check[] = [];
  checks.push(h ? check('hypertable', 'ok', `telemetry_events: ${h.chunks} chunks (${h.compressed} compressed), chunk interval ${h.chunk_interval ?? '?'}`)
    : check('hypertable', 'red', 'telemetry_events is not a hypertable'));
  checks.push(h?.columnstore ? check('columnstore', 'ok', 'enabled, segmented by source, fact_name')
    : check('columnstore', 'red', 'columnstore (compression) is not enabled on telemetry_events'));
  const has = (kind: PolicyJob['kind'], target: string) => jobs.filter((j) => j.kind === kind && j.target === target);
  const expectPolicy = (kind: PolicyJob['kind'], target: string) => {
    const found = has(kind, target);
    checks.push(found.length
      ? check(`${kind} policy ${target}`, 'ok', `job ${found.map((j) => j.jobId).join(',')} every ${found[0]?.scheduleInterval}${found[0]?.setting ? `, ${found[0].setting}` : ''}`)
      : check(`${kind} policy ${target}`, 'red', `missing: ${kind} policy on ${target}`));
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
        if (found.length) checks.push(check(`retention policy ${target}`, 'warn', `setting says keep forever, but a retention policy exists (run npm run retention)`));
        continue;
      }
      if (!found.length) checks.push(check(`retention policy ${target}`, 'red', `missing: retention policy on ${target} (setting: ${days} days)`));
      else if (found.some((j) => j.drop_after_days !== days)) {
        checks.push(check(`retention policy ${target}`, 'warn', `policy drops after ${found[0]?.setting}, setting says ${days} days (run npm run retention)`));
      } else checks.push(check(`retention policy ${target}`, 'ok', `drop after ${days} days`));
    }
  }
  for (const j of jobs.filter((x) => x.lastRunStatus === 'Failed')) {
    checks.push(check(`job ${j.jobId}`, 'red', `${j.kind} policy on ${j.target}: last run failed (${j.totalFailures ?? '?'} failures)`));
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

const dayOf = (name: string) => `${name.slice(-8, -4)}-${name.slice(-4, -2)}-${name.slice(-2)}`;

export async function inspectPartitions(db: SqlSession, now: Date, retention: RetentionSettings | null): Promise<{ storage: PartitionStorage; checks: Check[] }> {
  const { rows } = await db.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'telemetry_events'::regclass ORDER BY c.relname`,
  );
  const names = rows.map((r) => r.relname);
  const days = names.filter((n) => /^telemetry_events_p\d{8}$/.test(n)).map(dayOf).sort();
  const hasDefault = names.includes('telemetry_events_default');
  const defaultRows = hasDefault
    ? ((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry_events_default')).rows[0]?.n ?? 0)
    : 0;
  const day = (offsetDays: number) => new Date(now.getTime() + offsetDays * 86_400_000).toISOString().slice(0, 10);
  const checks: Check[] = [];
  checks.push(days.includes(day(0))
    ? check('partition today', 'ok', `telemetry_events_p${day(0).replaceAll('-', '')} exists`)
    : check('partition today', 'red', `no partition for today (${day(0)}): rows land in the default partition; run maintenance`));
  checks.push(days.includes(day(1))
    ? check('partition ahead', 'ok', `partitions through ${days.at(-1)}`)
    : check('partition ahead', 'warn', `no partition for tomorrow (${day(1)}): maintenance has not run today`));
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
