/**
 * A token's expiry (src/tokens/tokenExpiry.ts): the configured lifetime,
 * capped by the maximum and by the earliest end of a grant the decision
 * relied on, rounded down to a whole second; no token when not one whole
 * second is left.
 */
import { describe, expect, it } from 'vitest';
import { tokenExpiry } from '../../src/tokens/tokenExpiry.ts';

const SECOND = Date.UTC(2026, 5, 1, 12);
const lifetime = { ttlSeconds: 900, maxSeconds: 3600 };
const at = (ms: number) => new Date(SECOND + ms);
const expiry = (atMs: number, grantsEnd: number | null, l = lifetime) => tokenExpiry(at(atMs), grantsEnd === null ? null : SECOND + grantsEnd, l)?.getTime();

describe('tokenExpiry', () => {
  it('is the configured lifetime after the decision, on a whole second (rounded down)', () => {
    expect(expiry(0, null)).toBe(SECOND + 900_000);
    expect(expiry(999, null)).toBe(SECOND + 900_000);
  });

  it('never past the cap', () => {
    expect(expiry(0, null, { ttlSeconds: 900, maxSeconds: 300 })).toBe(SECOND + 300_000);
    expect(expiry(400, null, { ttlSeconds: 900, maxSeconds: 300 })).toBe(SECOND + 300_000);
  });

  it('never past the earliest end of a grant relied on, rounded down', () => {
    expect(expiry(250, 120_000)).toBe(SECOND + 120_000);
    expect(expiry(250, 120_999)).toBe(SECOND + 120_000);
    // A grant longer than the lifetime does not lift it, nor the cap.
    expect(expiry(0, 7_200_000)).toBe(SECOND + 900_000);
    expect(expiry(0, 7_200_000, { ttlSeconds: 900, maxSeconds: 60 })).toBe(SECOND + 60_000);
  });

  it('gives no token when the grant ends within the decision\'s second (the exp would be the iat)', () => {
    expect(expiry(250, 999)).toBeUndefined();
    expect(expiry(250, 251)).toBeUndefined();
    expect(expiry(0, 0)).toBeUndefined();
    expect(expiry(999, -1)).toBeUndefined();
    // One whole second left is enough.
    expect(expiry(999, 1000)).toBe(SECOND + 1000);
  });

  it('gives no token on a lifetime of less than a second (fails closed on a nonsense setting)', () => {
    expect(expiry(0, null, { ttlSeconds: 0, maxSeconds: 3600 })).toBeUndefined();
    expect(expiry(0, null, { ttlSeconds: Number.NaN, maxSeconds: 3600 })).toBeUndefined();
    expect(expiry(0, null, { ttlSeconds: 900, maxSeconds: -5 })).toBeUndefined();
  });
});
