import type { TimescaleTestDb } from '../helpers/pglite.ts';

export interface PolicyJobRow {
  job_id: number;
  proc_name: string;
  target: string;
  config: Record<string, string | number>;
  scheduled: boolean;
  next_start: string | null;
}

/** The tapline policy jobs (compression, retention, refresh), in job id order. */
export async function policyJobs(tsdb: TimescaleTestDb): Promise<PolicyJobRow[]> {
  const { rows } = await tsdb.db.query<PolicyJobRow>(
    `SELECT job_id, proc_name, hypertable_name AS target, config, scheduled, to_json(next_start)#>>'{}' AS next_start
     FROM timescaledb_information.jobs
     WHERE proc_name IN ('policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate') ORDER BY job_id`,
  );
  return rows;
}

export async function jobFor(tsdb: TimescaleTestDb, proc: string, target: string): Promise<PolicyJobRow> {
  const job = (await policyJobs(tsdb)).find((j) => j.proc_name === proc && j.target === target);
  if (!job) throw new Error(`no ${proc} job on ${target}`);
  return job;
}

export const runRefresh = async (tsdb: TimescaleTestDb, view: string): Promise<void> => tsdb.runJob((await jobFor(tsdb, 'policy_refresh_continuous_aggregate', view)).job_id);

/** Every refresh in hierarchy order, 1min first. */
export async function refreshAll(tsdb: TimescaleTestDb): Promise<void> {
  for (const view of ['telemetry_1min', 'telemetry_1h', 'telemetry_1day']) await runRefresh(tsdb, view);
}

/** A scheduler pass over every policy job: refreshes in hierarchy order, then the others. */
export async function runPolicyJobs(tsdb: TimescaleTestDb): Promise<void> {
  await refreshAll(tsdb);
  for (const job of await policyJobs(tsdb)) {
    if (job.proc_name !== 'policy_refresh_continuous_aggregate') await tsdb.runJob(job.job_id);
  }
}
