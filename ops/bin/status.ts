import { migrationsFor } from '#core/db/migrate';
import { readMigrations } from '#core/db/migrationFiles';
import { worst } from '#core/warehouse/health';
import { collectWarehouseStatus, type WarehouseStatus } from '#core/warehouse/verify';
import { readConnectionFile } from '../../local/cli/connectionFile.ts';
import { openCliDatabase, type CliDatabase } from '../../local/cli/database.ts';
import { dataDir, dataDirHolder, shown } from '../../local/cli/dataDir.ts';
import { keptQueues, probeQueues, type QueueReport } from '../cli/queues.ts';
import { runCommand } from '../../local/cli/run.ts';
import { MIGRATIONS_DIR } from '../../local/environment.ts';

const USAGE = `npm run status -- [--data-dir DIR] [--json]
One screen on a local data dir (default .tapline/local) or DATABASE_URL: what runs on the data
dir, the database it uses and whether it answers, migrations applied and pending, rows, ingest lag,
the outbox, the last maintenance run, the queues' depths (the running local's, else those kept in
DIR/queues.json), and every check npm run verify would report as not green (what would alarm).
Exit status: 0 green or warnings, 1 red or the database does not answer, 2 usage or data dir in use.`;

runCommand({ usage: USAGE, options: { 'data-dir': { type: 'string' }, json: { type: 'boolean', default: false } } }, async ({ values: flags }) => {
  const dir = dataDir(flags['data-dir']);
  const holder = dataDirHolder(dir);
  const out: string[] = [];
  out.push(`data dir    ${shown(dir.root)}: ${holder ? `in use by \`${holder.command}\` (pid ${holder.pid}, since ${holder.startedAt})` : 'nothing runs on it'}`);
  const cli = await openCliDatabase(flags['data-dir'], 'npm run status').catch((e: unknown) => e as Error);
  if (cli instanceof Error) {
    out.push(`database    does not answer: ${cli.message}`);
    console.log(flags.json ? JSON.stringify({ dataDir: dir.root, holder: holder ?? null, database: { error: cli.message } }, null, 2) : out.join('\n'));
    return 1;
  }
  try {
    const status = await collectWarehouseStatus(cli.db);
    const migrations = await migrationState(cli, status);
    const queues = await queueDepths(cli, dir);
    const checks = [...status.checks, ...queues.checks];
    const overall = worst(checks);
    if (flags.json) {
      console.log(JSON.stringify({ dataDir: dir.root, holder: holder ?? null, database: cli.description, status: overall, migrations, warehouse: status, queues }, null, 2));
      return overall === 'red' ? 1 : 0;
    }
    out.push(
      `database    ${cli.description}: answers, ${status.engine === 'timescale' ? `TimescaleDB ${status.versions.timescaledb}` : 'plain PostgreSQL'} on PostgreSQL ${status.versions.postgres}`,
    );
    out.push(`migrations  ${migrations.applied} applied${migrations.pending.length ? `, PENDING: ${migrations.pending.join(', ')} (npm run migrate)` : ', none pending'}`);
    out.push(`rows        ${status.tables.map((t) => `${t.table.replace(/^telemetry_events$/, 'telemetry')} ${t.rows.toLocaleString('en-US')}`).join(', ') || 'none'}`);
    const i = status.ingest;
    out.push(
      `ingest      ${i?.latestEventTs ? `latest event ${i.latestEventTs}; delay over its last 5 min avg ${seconds(i.avgDelaySeconds)}, max ${seconds(i.maxDelaySeconds)}` : 'nothing ingested yet'}`,
    );
    if (status.outbox) out.push(`outbox      ${status.outbox.pending} waiting to be published`);
    const m = status.maintenance;
    if (m)
      out.push(
        `maintenance ${m.lastRun ? `last run ${m.lastRun.status} at ${m.lastRun.startedAt}${m.lastRun.error ? `: ${m.lastRun.error}` : ''}` : 'never ran (npm run maintenance)'}`,
      );
    out.push(`queues      ${'skipped' in queues ? queues.skipped : queues.queues.map((q) => `${q.name} ${q.visible + q.inFlight + q.delayed}`).join(', ')}`);
    const alarming = checks.filter((c) => c.status !== 'ok');
    out.push(`status      ${overall === 'ok' ? 'GREEN' : overall === 'warn' ? 'GREEN (with warnings)' : 'RED'}${alarming.length ? '' : ': nothing would alarm'}`);
    for (const c of alarming) out.push(`  ${c.status === 'red' ? 'RED ' : 'warn'} ${c.name}: ${c.detail}`);
    console.log(out.join('\n'));
    return overall === 'red' ? 1 : 0;
  } finally {
    await cli.close();
  }
});

async function migrationState(cli: CliDatabase, status: WarehouseStatus): Promise<{ applied: number; pending: string[] }> {
  const { rows } = await cli.db.query<{ name: string }>(`SELECT name FROM schema_migrations`).catch(() => ({ rows: [] as Array<{ name: string }> }));
  const applied = new Set(rows.map((r) => r.name));
  const pending = migrationsFor(status.engine, await readMigrations(MIGRATIONS_DIR))
    .map((m) => m.name)
    .filter((n) => !applied.has(n));
  return { applied: applied.size, pending };
}

/** The running local's queues, probed; else the messages kept in the data dir (no emulator is started for a look). */
async function queueDepths(cli: CliDatabase, dir: ReturnType<typeof dataDir>): Promise<QueueReport> {
  // The holder may be this command itself (it opened the kept database): then no run is going on.
  const holder = dataDirHolder(dir);
  const running = cli.connection ?? (holder && holder.pid !== process.pid ? readConnectionFile(dir) : undefined);
  if (running) return probeQueues({ endpoint: running.sqsEndpoint, prefix: `tapline-${cli.env.STAGE}`, region: running.region });
  if (cli.dir === null && (process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL)) {
    return probeQueues({ endpoint: (process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL)!, prefix: `tapline-${cli.env.STAGE}`, region: cli.env.AWS_REGION });
  }
  return (await keptQueues(dir.queues)) ?? { skipped: `no queue running and none kept in ${shown(dir.queues)}`, checks: [] };
}

const seconds = (s: number | null) => (s === null ? '-' : `${s.toFixed(1)} s`);
