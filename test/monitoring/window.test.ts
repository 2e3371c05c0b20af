/**
 * The burst windows' memory stays bounded: a key whose newest record has
 * left its window is forgotten by a later prune, within 1.25 windows of
 * record time, and a key still in its window is kept.
 */
import { describe, expect, it } from 'vitest';
import { BurstWindows } from '../../src/monitoring/window.ts';

const WINDOW = 60_000;
const at = (ms: number) => ({ log: 'decision_log' as const, id: `r${ms}`, at: ms });

describe('burst windows', () => {
  it('forget keys whose records left the window, and keep the others', () => {
    const w = new BurstWindows({ windowMs: WINDOW, threshold: 20 });
    for (let i = 0; i < 1000; i++) w.add(`principal:${i}`, at(i));
    w.add('principal:late', at(50_000));
    expect(w.size).toBe(1001);
    // Record time moves on: by 1.25 windows past the old records, only the one still in its window is left.
    for (let t = 1000; t <= 1000 + WINDOW * 1.25; t += 100) w.prune(t);
    expect(w.size).toBe(1);
    w.prune(50_000 + WINDOW * 1.25 + 1);
    expect(w.size).toBe(0);
  });

  it('a window that fired starts again empty', () => {
    const w = new BurstWindows({ windowMs: WINDOW, threshold: 3 });
    expect(w.add('k', at(1))).toBeUndefined();
    expect(w.add('k', at(2))).toBeUndefined();
    expect(w.add('k', at(3))?.map((e) => e.at)).toEqual([1, 2, 3]);
    expect(w.size).toBe(0);
  });
});
