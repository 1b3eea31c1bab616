import type { Engine } from '../db/migrate.ts';
import type { SqlSession } from '../db/session.ts';
import { installedEngine } from './grains.ts';
import { check, worst, type Check, type Health } from './health.ts';
import { readRetention, type RetentionSettings } from './retention.ts';
import { inspectHypertable, inspectPartitions, type HypertableStorage, type PartitionStorage } from './storage.ts';

/**
 * What `npm run verify` reports about the database: engine, storage and policies, row counts and
 * time ranges, derived events, maintenance runs. Each finding is a check (ok / warn / red); red
 * means the warehouse is not doing its job (no data, a missing policy or partition, maintenance
 * never ran or failed). Read-only.
 */

export interface TableStats {
  table: string;
  rows: number;
  minTs: string | null;
  maxTs: string | null;
  last24h: number;
}

export interface MaintenanceStatus {
  lastRun: { status: string; startedAt: string; finishedAt: string; error: string | null } | null;
  lastOkAt: string | null;
  runsLast24h: { ok: number; failed: number };
  watermarks: Record<string, string>;
}

export interface IngestLag {
  latestEventTs: string | null;
  latestIngestedAt: string | null;
  /** ingested_at - ts over the last 5 minutes of data: producer-to-warehouse delay. */
  avgDelaySeconds: number | null;
  maxDelaySeconds: number | null;
}

export interface WarehouseStatus {
  checkedAt: string;
  engine: Engine;
  versions: { postgres: string; timescaledb: string | null };
  retention: RetentionSettings | null;
  storage: HypertableStorage | PartitionStorage | null;
  tables: TableStats[];
  ingest: IngestLag | null;
  outbox: { pending: number; oldestAgeSeconds: number | null } | null;
  maintenance: MaintenanceStatus | null;
  checks: Check[];
  status: Health;
}

/** Telemetry grains: empty means the pipeline or the aggregation is not working. */
const REQUIRED_TABLES: ReadonlyArray<[string, string]> = [
  ['telemetry_events', 'ts'],
  ['telemetry_1min', 'bucket'],
  ['telemetry_1h', 'bucket'],
  ['telemetry_1day', 'bucket'],
];
/** Derived tables: legitimately empty early on (no rule fired, no 5-minute interval complete yet). */
const INFO_TABLES: ReadonlyArray<[string, string]> = [
  ['rule_events', 'ts'],
  ['anomaly_events', 'ts'],
  ['oee_snapshots', 'ts'],
];
const SCHEMA_TABLES = ['telemetry_events', 'warehouse_retention', 'maintenance_runs', 'oee_snapshots', 'telemetry_1min'];

const MAINTENANCE_STALE_MINUTES = 60;

export async function collectWarehouseStatus(db: SqlSession, opts: { now?: Date } = {}): Promise<WarehouseStatus> {
  const now = opts.now ?? new Date();
  const engine = await installedEngine(db);
  const { rows: v } = await db.query<{ postgres: string; timescaledb: string | null }>(
    `SELECT current_setting('server_version') AS postgres,
            (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb`,
  );
  const versions = { postgres: v[0]?.postgres ?? '?', timescaledb: v[0]?.timescaledb ?? null };
  const base = { checkedAt: now.toISOString(), engine, versions };
  const checks: Check[] = [
    check(
      'engine',
      'ok',
      engine === 'timescale' ? `TimescaleDB ${versions.timescaledb} on PostgreSQL ${versions.postgres}` : `plain PostgreSQL ${versions.postgres} (partitions + rollup tables)`,
    ),
  ];

  const missing = await missingTables(db);
  if (missing.length) {
    checks.push(check('schema', 'red', `not migrated: missing ${missing.join(', ')} (run npm run migrate)`));
    return { ...base, retention: null, storage: null, tables: [], ingest: null, outbox: null, maintenance: null, checks, status: 'red' };
  }

  const retention = await readRetention(db);
  checks.push(
    check(
      'retention',
      'ok',
      Object.entries(retention)
        .map(([g, d]) => `${g} ${d === null ? 'kept' : `${d} d`}`)
        .join(', '),
    ),
  );
  const inspected = engine === 'timescale' ? await inspectHypertable(db, now, retention) : await inspectPartitions(db, now, retention);
  checks.push(...inspected.checks);

  const tables: TableStats[] = [];
  for (const [table, col] of [...REQUIRED_TABLES, ...INFO_TABLES]) tables.push(await tableStats(db, table, col, now));
  for (const t of tables) {
    const required = REQUIRED_TABLES.some(([name]) => name === t.table);
    if (t.rows > 0) checks.push(check(`rows ${t.table}`, 'ok', `${t.rows} rows, ${t.last24h} in the last 24 h`));
    else if (required) checks.push(check(`rows ${t.table}`, 'red', `${t.table} is empty`));
    else if (t.table === 'oee_snapshots') checks.push(check(`rows ${t.table}`, 'warn', 'no OEE snapshot yet (needs a complete 5-minute interval and a maintenance run)'));
  }

  const ingest = await ingestLag(db);
  const outbox = await outboxStatus(db);
  if (outbox.pending > 0 && (outbox.oldestAgeSeconds ?? 0) > 300) {
    checks.push(check('outbox', 'warn', `${outbox.pending} derived events unpublished, oldest ${Math.round(outbox.oldestAgeSeconds ?? 0)} s`));
  }
  const maintenance = await maintenanceStatus(db);
  checks.push(maintenanceCheck(maintenance, now));

  return { ...base, retention, storage: inspected.storage, tables, ingest, outbox, maintenance, checks, status: worst(checks) };
}

async function missingTables(db: SqlSession): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(`SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NULL`, [SCHEMA_TABLES]);
  return rows.map((r) => r.name);
}

async function tableStats(db: SqlSession, table: string, col: string, now: Date): Promise<TableStats> {
  const { rows } = await db.query<{ rows: number; min_ts: string | null; max_ts: string | null; last24h: number }>(
    `SELECT count(*)::bigint AS rows, to_json(min(${col}))#>>'{}' AS min_ts, to_json(max(${col}))#>>'{}' AS max_ts,
            count(*) FILTER (WHERE ${col} >= $1::timestamptz - INTERVAL '24 hours')::bigint AS last24h
     FROM ${table}`,
    [now.toISOString()],
  );
  const r = rows[0];
  return { table, rows: r?.rows ?? 0, minTs: r?.min_ts ?? null, maxTs: r?.max_ts ?? null, last24h: r?.last24h ?? 0 };
}

async function ingestLag(db: SqlSession): Promise<IngestLag> {
  // Anchored on the latest ts (an index walk), not on now: a kept database may be days old.
  const { rows } = await db.query<{ latest_ts: string | null; latest_ingested: string | null; avg_s: number | null; max_s: number | null }>(
    `WITH recent AS (
       SELECT ts, ingested_at FROM telemetry_events
       WHERE ts >= (SELECT max(ts) FROM telemetry_events) - INTERVAL '5 minutes')
     SELECT to_json(max(ts))#>>'{}' AS latest_ts, to_json(max(ingested_at))#>>'{}' AS latest_ingested,
            avg(extract(epoch FROM ingested_at - ts))::float8 AS avg_s, max(extract(epoch FROM ingested_at - ts))::float8 AS max_s
     FROM recent`,
  );
  const r = rows[0];
  return { latestEventTs: r?.latest_ts ?? null, latestIngestedAt: r?.latest_ingested ?? null, avgDelaySeconds: r?.avg_s ?? null, maxDelaySeconds: r?.max_s ?? null };
}

async function outboxStatus(db: SqlSession): Promise<{ pending: number; oldestAgeSeconds: number | null }> {
  const { rows } = await db.query<{ pending: number; oldest_s: number | null }>(
    `SELECT count(*)::bigint AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest_s FROM outbox WHERE sent_at IS NULL`,
  );
  return { pending: rows[0]?.pending ?? 0, oldestAgeSeconds: rows[0]?.oldest_s ?? null };
}

async function maintenanceStatus(db: SqlSession): Promise<MaintenanceStatus> {
  const { rows: last } = await db.query<{ status: string; started_at: string; finished_at: string; error: string | null }>(
    `SELECT status, to_json(started_at)#>>'{}' AS started_at, to_json(finished_at)#>>'{}' AS finished_at, error
     FROM maintenance_runs ORDER BY started_at DESC, run_id DESC LIMIT 1`,
  );
  const { rows: agg } = await db.query<{ last_ok: string | null; ok: number; failed: number }>(
    `SELECT to_json(max(started_at) FILTER (WHERE status = 'ok'))#>>'{}' AS last_ok,
            count(*) FILTER (WHERE status = 'ok' AND started_at > now() - INTERVAL '24 hours')::bigint AS ok,
            count(*) FILTER (WHERE status = 'failed' AND started_at > now() - INTERVAL '24 hours')::bigint AS failed
     FROM maintenance_runs`,
  );
  const { rows: marks } = await db.query<{ task: string; through: string }>(`SELECT task, to_json(ingested_through)#>>'{}' AS through FROM maintenance_watermarks ORDER BY task`);
  const l = last[0];
  return {
    lastRun: l ? { status: l.status, startedAt: l.started_at, finishedAt: l.finished_at, error: l.error } : null,
    lastOkAt: agg[0]?.last_ok ?? null,
    runsLast24h: { ok: agg[0]?.ok ?? 0, failed: agg[0]?.failed ?? 0 },
    watermarks: Object.fromEntries(marks.map((m) => [m.task, m.through])),
  };
}

function maintenanceCheck(m: MaintenanceStatus, now: Date): Check {
  if (!m.lastRun) return check('maintenance', 'red', 'maintenance never ran (rollups/OEE are not being computed)');
  if (m.lastRun.status !== 'ok') return check('maintenance', 'red', `last run failed at ${m.lastRun.startedAt}: ${m.lastRun.error ?? 'unknown error'}`);
  const ageMinutes = (now.getTime() - Date.parse(m.lastRun.startedAt)) / 60_000;
  const detail = `last run ok at ${m.lastRun.startedAt}; ${m.runsLast24h.ok} ok / ${m.runsLast24h.failed} failed in 24 h`;
  return ageMinutes > MAINTENANCE_STALE_MINUTES ? check('maintenance', 'warn', `${detail} (over ${MAINTENANCE_STALE_MINUTES} min ago)`) : check('maintenance', 'ok', detail);
}
