import { describe, expect, it } from 'vitest';
import { ManualClock, uuidv7Generator } from '../src/clock.ts';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7Generator', () => {
  it('makes RFC 9562 version-7 ids whose first 48 bits are the clock in milliseconds', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 29, 12, 0, 0, 123));
    const id = uuidv7Generator(clock)();
    expect(id).toMatch(UUIDV7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(clock.now().getTime());
  });

  it('never repeats, across many refills of its random pool, and sorts by time', () => {
    const clock = new ManualClock(0);
    const next = uuidv7Generator(clock);
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) {
      clock.advance(1);
      ids.push(next());
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => UUIDV7.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });

  it('spreads the random part over all hex digits', () => {
    const next = uuidv7Generator(new ManualClock(0));
    const tails = Array.from({ length: 2000 }, () => next().slice(24));
    for (const d of '0123456789abcdef') expect(tails.some((t) => t.includes(d))).toBe(true);
  });
});
