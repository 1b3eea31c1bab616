import { describe, expect, it } from 'vitest';
import { DEFAULT_EMA, observe, type EmaState, type Observation } from '#core/anomaly';

/** Deterministic gaussian noise (LCG + Box-Muller), so the false-positive rate is reproducible. */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function feed(values: number[], start?: EmaState): { state: EmaState | undefined; observations: Observation[] } {
  let state = start;
  const observations: Observation[] = [];
  for (const v of values) {
    const o = observe(state, v);
    observations.push(o);
    state = o.state;
  }
  return { state, observations };
}

const noise = (n: number, mean: number, sd: number, seed: number): number[] => {
  const g = gaussian(seed);
  return Array.from({ length: n }, () => mean + sd * g());
};

describe('EMA anomaly detector', () => {
  it('starts a series at its first value', () => {
    expect(observe(undefined, 18.5)).toEqual({ state: { ema: 18.5, emvar: 0, samples: 1 } });
  });

  it('moves the mean by alpha 0.2 of the residual', () => {
    const { state } = feed([10, 20]);
    expect(state?.ema).toBeCloseTo(12, 12);
    expect(state?.samples).toBe(2);
  });

  it('never fires during the 30-sample warm-up, however wild the values', () => {
    // Prepare: a wildly alternating series of exactly the warm-up length
    const values = Array.from({ length: DEFAULT_EMA.windowSamples }, (_, i) => (i % 2 === 0 ? 0 : 1_000 * i));

    // Act
    const { observations } = feed(values);

    // Assess
    expect(observations.filter((o) => o.anomaly)).toEqual([]);
  });

  it('fires on a 3-sigma spike after the warm-up and reports what the value was compared with', () => {
    // Prepare
    const { state } = feed(noise(200, 20, 0.5, 7));
    const before = state as EmaState;
    const sigmaBefore = Math.sqrt(before.emvar);
    const spike = before.ema + 6 * sigmaBefore;

    // Act
    const result = observe(before, spike);

    // Assess
    expect(result.anomaly).toEqual({ value: spike, ema: before.ema, sigma: sigmaBefore });
    expect(result.state.samples).toBe(before.samples + 1);
    expect(result.state.ema).toBeCloseTo(before.ema + 0.2 * (spike - before.ema), 12);
  });

  it('does not fire on a deviation just inside 3 sigma', () => {
    const { state } = feed(noise(200, 20, 0.5, 7));
    const before = state as EmaState;
    expect(observe(before, before.ema - 2.9 * Math.sqrt(before.emvar)).anomaly).toBeUndefined();
  });

  it('fires on fewer than 1% of 10,000 steady gaussian samples', () => {
    // Act
    const { observations } = feed(noise(10_000, 64.2, 1.3, 20261101));

    // Assess
    const judged = observations.length - DEFAULT_EMA.windowSamples;
    const fired = observations.filter((o) => o.anomaly).length;
    expect(fired / judged).toBeLessThan(0.01);
  });

  it('never fires on a constant series', () => {
    const { observations, state } = feed(Array.from({ length: 1_000 }, () => 4.2));
    expect(observations.filter((o) => o.anomaly)).toEqual([]);
    expect(state?.emvar).toBe(0);
  });

  it('fires on a small jump away from a flat series', () => {
    // Prepare
    const { state } = feed(Array.from({ length: 100 }, () => 1.013));

    // Act
    const result = observe(state, 1.014);

    // Assess
    expect(result.anomaly).toEqual({ value: 1.014, ema: 1.013, sigma: DEFAULT_EMA.sigmaFloor });
  });

  it('absorbs a lasting level shift instead of firing on every later sample', () => {
    // Prepare
    const { state } = feed(noise(100, 20, 0.5, 3));

    // Act
    const { observations } = feed(noise(100, 30, 0.5, 4), state);

    // Assess
    const fired = observations.map((o, i) => (o.anomaly ? i : -1)).filter((i) => i >= 0);
    expect(fired[0]).toBe(0);
    expect(fired.length).toBeLessThan(10);
    expect(fired.every((i) => i < 20)).toBe(true);
  });
});
