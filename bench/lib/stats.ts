/** Nearest-rank percentile (p in 0..100) of a sample; NaN for an empty one. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Median; for an even count the mean of the two middle values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Items per second for `items` done in `ms` milliseconds. */
export const perSecond = (items: number, ms: number): number => (ms > 0 ? (items * 1000) / ms : Number.NaN);

/**
 * Throughput ratio of two scenarios timed in the same rounds: the median of the per-round ratios,
 * so a round slowed down by a neighbour on the machine slows both sides of its own ratio.
 */
export function pairedRatio(numeratorPerSec: readonly number[], denominatorPerSec: readonly number[]): number {
  const n = Math.min(numeratorPerSec.length, denominatorPerSec.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = denominatorPerSec[i] as number;
    if (d > 0) ratios.push((numeratorPerSec[i] as number) / d);
  }
  return median(ratios);
}
