/**
 * The soak's verdict (bench/soak/summary.ts): which sample is the baseline,
 * and when a figure counts as flat.
 */
import { describe, expect, it } from 'vitest';
import { baselineIndex, drift } from '../../bench/soak/summary.ts';

describe('soak summary', () => {
  it('takes minute 5 as the baseline when the run has one-minute samples past it', () => {
    expect(baselineIndex(30, 60)).toMatchObject({ index: 4, label: 'minute 5' });
    expect(baselineIndex(6, 60).index).toBe(4);
  });

  it('takes the first sample in a run too short for minute 5, or with shorter samples', () => {
    expect(baselineIndex(5, 60).index).toBe(0);
    expect(baselineIndex(30, 10).index).toBe(0);
  });

  it('measures the change from the baseline to the last sample, signed, flat within 10 % either way', () => {
    expect(drift([900, 100, 110], 1)).toEqual({ baseline: 100, last: 110, change_percent: 10, flat: true });
    expect(drift([100, 111], 0)).toMatchObject({ change_percent: 11, flat: false });
    expect(drift([100, 89], 0)).toMatchObject({ change_percent: -11, flat: false });
    expect(drift([100, 95, 500, 104], 0)).toMatchObject({ change_percent: 4, flat: true });
  });

  it('never calls a figure flat that grew from zero', () => {
    expect(drift([0, 5], 0).flat).toBe(false);
    expect(drift([0, 0], 0).flat).toBe(true);
  });
});
