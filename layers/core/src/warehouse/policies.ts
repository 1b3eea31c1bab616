import type { SqlSession } from '../db/session.ts';

/** One TimescaleDB policy job that warehouse_apply_policies() changed or found not as it should be. */
export interface PolicyChange {
  jobId: number | null;
  policy: string;
  target: string;
  action: 'added' | 'changed' | 'enabled' | 'removed' | 'missing' | 'paused';
  detail: string;
}

/**
 * TimescaleDB only: brings the policy jobs in line with warehouse_retention through the
 * database's warehouse_apply_policies() (migration 0008): alters only the jobs whose settings
 * differ, and with `repair` adds missing policies (first runs 20 s apart) and re-enables paused
 * jobs. The repair behind `npm run maintenance -- --repair`.
 */
export async function applyPolicies(db: SqlSession, opts: { repair: boolean }): Promise<PolicyChange[]> {
  const { rows } = await db.query<{ job_id: number | null; policy: string; target: string; action: PolicyChange['action']; detail: string }>(
    'SELECT job_id, policy, target, action, detail FROM warehouse_apply_policies($1)',
    [opts.repair],
  );
  return rows.map((r) => ({ jobId: r.job_id, policy: r.policy, target: r.target, action: r.action, detail: r.detail }));
}
