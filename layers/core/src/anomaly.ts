/**
 * EMA anomaly detector, one state per (source, fact) series. The original: "EMA alpha 0.2 over a
 * 30-sample window, fire at 3 sigma". Here:
 * - the level is an EMA with alpha 0.2;
 * - the spread is an exponentially weighted mean of the squared residuals (value - ema before the
 *   update) over the 30-sample window (span convention, weight 2 / (30 + 1)). Residuals are what is
 *   tested, so their own variance is the right yardstick. Weighting the variance with alpha 0.2 too
 *   (about 9 effective samples) gives such a noisy sigma that 3-sigma fires on 2.3% of plain gaussian
 *   noise; the 30-sample window brings that to about 0.5% (0.27% is the exact gaussian rate);
 * - no value is judged before 30 samples (the warm-up); while warming up the residual variance is a
 *   plain running mean, so the first judged sigma is not biased towards 0 by the zero start.
 * The anomalous value is still folded in: a lasting level shift becomes the new normal instead of
 * firing on every following sample.
 */
export interface EmaConfig {
  alpha: number;
  /** Warm-up length and span of the variance average. */
  windowSamples: number;
  thresholdSigmas: number;
  /**
   * Lowest sigma a value is compared with. A perfectly flat series has variance 0; with this absolute
   * floor a constant series never fires (its residual is exactly 0) while any real jump away from it
   * (more than threshold x floor) does. 1e-6 sits far below the resolution of every brewery fact.
   */
  sigmaFloor: number;
}

export const DEFAULT_EMA: EmaConfig = { alpha: 0.2, windowSamples: 30, thresholdSigmas: 3, sigmaFloor: 1e-6 };

export interface EmaState {
  ema: number;
  /** Exponentially weighted mean of squared residuals. */
  emvar: number;
  samples: number;
}

export interface Anomaly {
  value: number;
  /** The mean the value was compared with (before the value was folded in). */
  ema: number;
  /** The sigma the value was compared with (before the value was folded in, floor applied). */
  sigma: number;
}

export interface Observation {
  state: EmaState;
  anomaly?: Anomaly;
}

export function observe(state: EmaState | undefined, value: number, cfg: EmaConfig = DEFAULT_EMA): Observation {
  if (state === undefined) return { state: { ema: value, emvar: 0, samples: 1 } };
  const residual = value - state.ema;
  const sigma = Math.max(Math.sqrt(state.emvar), cfg.sigmaFloor);
  // state.samples is also the number of residuals once this one is counted (the first sample has none).
  const varianceWeight = Math.max(2 / (cfg.windowSamples + 1), 1 / state.samples);
  const next: EmaState = {
    ema: state.ema + cfg.alpha * residual,
    emvar: state.emvar + varianceWeight * (residual * residual - state.emvar),
    samples: state.samples + 1,
  };
  // Values near the float8 limits can overflow the variance; restart the series rather than store Infinity.
  if (!Number.isFinite(next.ema) || !Number.isFinite(next.emvar)) return { state: { ema: value, emvar: 0, samples: 1 } };
  if (state.samples >= cfg.windowSamples && Math.abs(residual) > cfg.thresholdSigmas * sigma) {
    return { state: next, anomaly: { value, ema: state.ema, sigma } };
  }
  return { state: next };
}
