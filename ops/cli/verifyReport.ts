import type { Check } from '#core/warehouse/health';
import type { PolicyJob } from '#core/warehouse/storage';
import type { WarehouseStatus } from '#core/warehouse/verify';
import type { QueueReport } from './queues.ts';

/** The human-readable `npm run verify` report (the --json form is the same data). */
export function renderVerifyReport(where: string, status: WarehouseStatus, queues: QueueReport, overall: Check['status']): string {
  const out: string[] = [];
  const v = status.versions;
  out.push(`tapline verify: ${overall === 'ok' ? 'GREEN' : overall === 'warn' ? 'GREEN (with warnings)' : 'RED'}   (${where})`);
  out.push(`engine      ${status.engine === 'timescale' ? `TimescaleDB ${v.timescaledb}` : 'plain PostgreSQL'} on PostgreSQL ${v.postgres}`);
  if (status.retention) {
    out.push(
      `retention   ${Object.entries(status.retention)
        .map(([g, d]) => `${g} ${d === null ? 'kept' : `${d} d`}`)
        .join(', ')}`,
    );
  }
  const s = status.storage;
  if (s?.kind === 'hypertable') {
    out.push(`storage     hypertable, ${s.chunks} chunks (${s.compressedChunks} compressed), chunk ${s.chunkInterval ?? '?'}, columnstore ${s.columnstore ? 'on' : 'OFF'}`);
    out.push('policies    job   kind         target            every        setting      last run');
    for (const j of s.jobs) {
      out.push(`            ${pad(j.jobId, 5)} ${pad(j.kind, 12)} ${pad(j.target, 17)} ${pad(j.scheduleInterval, 12)} ${pad(j.setting ?? '', 12)} ${lastRun(j)}`);
    }
  } else if (s?.kind === 'partitions') {
    out.push(`storage     ${s.partitions} daily partitions ${s.firstDay ?? '-'} .. ${s.lastDay ?? '-'}, default partition ${s.defaultPartitionRows} rows`);
  }
  if (status.tables.length) {
    out.push('tables      table              rows         last 24h     min ts                          max ts');
    for (const t of status.tables) {
      out.push(`            ${pad(t.table, 18)} ${pad(n(t.rows), 12)} ${pad(n(t.last24h), 12)} ${pad(t.minTs ?? '-', 31)} ${t.maxTs ?? '-'}`);
    }
  }
  if (status.ingest?.latestEventTs) {
    const i = status.ingest;
    out.push(`ingest      latest event ${i.latestEventTs}, written ${i.latestIngestedAt}; delay over its last 5 min avg ${sec(i.avgDelaySeconds)}, max ${sec(i.maxDelaySeconds)}`);
  }
  if (status.outbox) out.push(`outbox      ${status.outbox.pending} derived events waiting to be published`);
  if (status.maintenance) {
    const m = status.maintenance;
    out.push(
      `maintenance ${m.lastRun ? `last run ${m.lastRun.status} at ${m.lastRun.startedAt}` : 'never ran'}; 24 h: ${m.runsLast24h.ok} ok, ${m.runsLast24h.failed} failed; ` +
        `watermarks ${Object.entries(m.watermarks)
          .map(([k, w]) => `${k} ${w}`)
          .join(', ')}`,
    );
  }
  if ('queues' in queues) {
    out.push('queues      name                                   waiting   in flight');
    for (const q of queues.queues) out.push(`            ${pad(q.name + (q.deadLetter ? ' (DLQ)' : ''), 38)} ${pad(q.visible, 9)} ${q.inFlight}`);
  } else {
    out.push(`queues      ${queues.skipped}`);
  }
  out.push('checks');
  const mark = { ok: 'ok  ', warn: 'WARN', red: 'RED ' } as const;
  const all = [...status.checks, ...queues.checks];
  for (const c of all) out.push(`  ${mark[c.status]}  ${pad(c.name, 34)} ${c.detail}`);
  return out.join('\n');
}

/** The job's last run as an operator reads it: a failure shows when it failed and why. */
function lastRun(j: PolicyJob): string {
  const state = j.scheduled ? '' : 'PAUSED; ';
  if (j.lastRunStatus === 'Failed') {
    return (
      `${state}Failed at ${j.lastFailure?.at ?? j.lastRunStartedAt ?? '?'}: ${j.lastFailure?.message ?? 'no error message recorded'}` +
      ` (last success ${j.lastSuccessfulFinish ?? 'never'})`
    );
  }
  if (j.lastRunStatus) return `${state}${j.lastRunStatus} ${j.lastSuccessfulFinish ?? ''}`;
  return `${state}not run yet${j.nextStart ? `, next ${j.nextStart}` : ''}`;
}

const pad = (v: string | number, width: number): string => String(v).padEnd(width);
const n = (v: number): string => v.toLocaleString('en-US');
const sec = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)} s`);
