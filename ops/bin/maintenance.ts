import { MaintenanceError, runMaintenance, type MaintenanceReport } from '#core/warehouse/maintenance';
import { openCliDatabase } from '../../local/cli/database.ts';
import { runCommand } from '../../local/cli/run.ts';

const USAGE = `npm run maintenance -- [--repair] [--json] [--data-dir DIR]
Runs the warehouse maintenance step once, as the scheduled function does. Plain PostgreSQL:
partitions, rollups, OEE, retention. TimescaleDB: policies kept in line with warehouse_retention,
and OEE. --repair (TimescaleDB) also adds every missing policy and re-enables paused jobs (first
runs staggered); on plain PostgreSQL a run is itself the repair (partitions, rollups).
Database: as for npm run verify. Exit status: 0 done, 1 a step failed, 2 usage.`;

runCommand(
  {
    usage: USAGE,
    options: {
      repair: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
    },
  },
  async ({ values: flags }) => {
    const cli = await openCliDatabase(flags['data-dir'], 'npm run maintenance');
    try {
      const report = await runMaintenance(cli.db, { repair: flags.repair });
      console.log(flags.json ? JSON.stringify(report, null, 2) : summary(cli.description, report));
      return 0;
    } catch (e) {
      if (!(e instanceof MaintenanceError)) throw e;
      console.error(`maintenance on ${cli.description}: ${e.message} (recorded in maintenance_runs; see npm run verify)`);
      return 1;
    } finally {
      await cli.close();
    }
  },
);

function summary(where: string, r: MaintenanceReport): string {
  const out = [`maintenance done on ${where} (${r.engine === 'timescale' ? 'TimescaleDB' : 'plain PostgreSQL'})`];
  if (r.partitions) {
    const p = r.partitions;
    out.push(`  partitions: ${p.created ?? 0} created (${p.movedFromDefault ?? 0} rows moved from default), ${p.dropped ?? 0} dropped`);
  }
  if (r.rollups) {
    out.push(
      r.rollups.status === 'done'
        ? `  rollups: ${r.rollups.result['1min']} 1min, ${r.rollups.result['1h']} 1h, ${r.rollups.result['1day']} 1day buckets written`
        : `  rollups: skipped (${r.rollups.reason})`,
    );
  }
  if (r.expiredRollups) out.push(`  rollup retention: ${r.expiredRollups['1min'] + r.expiredRollups['1h'] + r.expiredRollups['1day']} rows past retention deleted`);
  if (r.policies) {
    if (!r.policies.length) out.push('  policies: all in line with warehouse_retention');
    for (const c of r.policies) out.push(`  policy ${c.policy} on ${c.target}${c.jobId === null ? '' : ` (job ${c.jobId})`}: ${c.action}, ${c.detail}`);
  }
  if (r.oee) out.push(r.oee.status === 'done' ? `  oee: ${r.oee.result.snapshotsWritten} snapshots written` : `  oee: skipped (${r.oee.reason})`);
  return out.join('\n');
}
