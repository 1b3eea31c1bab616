/** Exponential backoff with full jitter (the AWS Architecture Blog's recommendation). */
export interface BackoffOptions {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /**
   * Time the caller has left (a Lambda invocation's remaining time): no wait starts that would
   * leave less than `reserveMs` of it, so the invocation ends with a clean error, not a timeout.
   */
  remainingMs?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 2_000 };

/** Kept free for what follows a failed retry loop: rollback, reporting, the response. */
export const RESERVE_MS = 3_000;

const realSleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt);
  return Math.floor((o.random ?? Math.random)() * cap);
}

/** Waits before retry `attempt`; false (and no wait) when the time budget cannot afford it. */
export async function pause(attempt: number, o: BackoffOptions): Promise<boolean> {
  const delay = backoffDelay(attempt, o);
  if (o.remainingMs && o.remainingMs() - delay < RESERVE_MS) return false;
  await (o.sleep ?? realSleep)(delay);
  return true;
}
