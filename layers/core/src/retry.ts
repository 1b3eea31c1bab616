/** Exponential backoff with full jitter (the AWS Architecture Blog's recommendation). */
export interface BackoffOptions {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 2_000 };

const realSleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt);
  return Math.floor((o.random ?? Math.random)() * cap);
}

export const pause = (attempt: number, o: BackoffOptions): Promise<void> =>
  (o.sleep ?? realSleep)(backoffDelay(attempt, o));
