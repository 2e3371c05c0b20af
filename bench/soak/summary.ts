/**
 * The soak's verdict: how much a figure moved between the baseline sample
 * and the last one. The baseline is minute 5 (after JIT, pools and caches
 * have settled) when the run has minute-long samples past it; a shorter run
 * (or --smoke, with shorter samples) compares its first sample after the
 * warm-up instead, and says so.
 */

/** The change of one figure. */
export interface Drift {
  baseline: number;
  last: number;
  /** (last − baseline) / baseline, in per cent, signed. */
  change_percent: number;
  /** |change| ≤ the tolerance. */
  flat: boolean;
}

export const TOLERANCE_PERCENT = 10;

/** Index of the baseline sample: minute 5 (the 5th one-minute sample) if the run goes past it, else the first. */
export function baselineIndex(samples: number, sampleSeconds: number): { index: number; label: string } {
  if (sampleSeconds === 60 && samples > 5) return { index: 4, label: 'minute 5' };
  return { index: 0, label: 'first sample after the warm-up (run too short for minute 5)' };
}

export function drift(series: readonly number[], baseline: number): Drift {
  const b = series[baseline]!;
  const last = series[series.length - 1]!;
  const change = b === 0 ? (last === 0 ? 0 : Infinity) : ((last - b) / b) * 100;
  return { baseline: b, last, change_percent: Math.round(change * 10) / 10, flat: Math.abs(change) <= TOLERANCE_PERCENT };
}
