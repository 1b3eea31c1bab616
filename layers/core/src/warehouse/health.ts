/** Status vocabulary shared by `npm run verify` and its parts: red fails the command. */
export type Health = 'ok' | 'warn' | 'red';

export interface Check {
  name: string;
  status: Health;
  detail: string;
}

const RANK: Record<Health, number> = { ok: 0, warn: 1, red: 2 };

export const worst = (checks: readonly Check[]): Health => checks.reduce<Health>((w, c) => (RANK[c.status] > RANK[w] ? c.status : w), 'ok');

export const check = (name: string, status: Health, detail: string): Check => ({ name, status, detail });
