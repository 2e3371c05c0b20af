/**
 * The token-bucket arithmetic (src/ratelimit/bucket.ts), as properties over
 * random limits, times and requests: never more than the burst held, never
 * more handed out over a stretch of time than the burst plus the rate times
 * its length, nothing lost or minted by a lease, and a Retry-After after
 * which the tokens are there.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullBucket, lease, leaseSize, refill, retryAfterSeconds, type Limit } from '../../src/ratelimit/bucket.ts';

const limitArb = fc.record({ rate: fc.integer({ min: 1, max: 10_000 }), burst: fc.integer({ min: 1, max: 20_000 }) });
/** A lease request after a pause: ms since the previous one (some backwards: clocks of two readers), how many wanted and needed. */
const stepArb = fc.record({ dt: fc.integer({ min: -50, max: 2000 }), want: fc.integer({ min: 1, max: 500 }), need: fc.integer({ min: 1, max: 50 }) });

describe('token bucket', () => {
  it('holds between 0 and the burst, and refills with time only', () => {
    fc.assert(
      fc.property(limitArb, fc.array(stepArb, { maxLength: 60 }), (limit, steps) => {
        let s = fullBucket(limit, 0);
        let t = 0;
        for (const st of steps) {
          t += st.dt;
          const before = refill(s, t, limit).tokens;
          expect(before).toBeLessThanOrEqual(limit.burst);
          const r = lease(s, t, limit, st.want, Math.min(st.need, st.want));
          s = r.state;
          expect(s.tokens).toBeGreaterThanOrEqual(0);
          expect(s.tokens).toBeLessThanOrEqual(limit.burst);
          // Nothing minted or lost: what is left and what was handed out are what was there.
          expect(s.tokens + r.granted).toBeCloseTo(before, 6);
        }
      }),
    );
  });

  it('hands out no more than the burst plus the rate times the time elapsed, whatever the pattern of leases', () => {
    fc.assert(
      fc.property(limitArb, fc.array(stepArb, { minLength: 1, maxLength: 100 }), (limit, steps) => {
        let s = fullBucket(limit, 0);
        let t = 0;
        let latest = 0;
        let total = 0;
        for (const st of steps) {
          t += st.dt;
          latest = Math.max(latest, t);
          const r = lease(s, t, limit, st.want, Math.min(st.need, st.want));
          s = r.state;
          total += r.granted;
        }
        expect(total).toBeLessThanOrEqual(limit.burst + (limit.rate * latest) / 1000 + 1e-6);
      }),
    );
  });

  it('grants whole tokens, at most what is wanted, and nothing when fewer than needed are there', () => {
    fc.assert(
      fc.property(limitArb, fc.double({ min: 0, max: 1, noNaN: true }), stepArb, (limit, fill, st) => {
        const tokens = fill * limit.burst;
        const need = Math.min(st.need, st.want);
        const r = lease({ tokens, at: 0 }, 0, limit, st.want, need);
        expect(Number.isInteger(r.granted)).toBe(true);
        expect(r.granted).toBeLessThanOrEqual(st.want);
        if (Math.floor(tokens) < need) expect(r.granted).toBe(0);
        else expect(r.granted).toBe(Math.min(st.want, Math.floor(tokens)));
      }),
    );
  });

  it('time running backwards adds nothing and does not move the bucket back', () => {
    fc.assert(
      fc.property(limitArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (limit, fill, at, back) => {
        const s = { tokens: fill * limit.burst, at };
        expect(refill(s, at - back, limit)).toEqual(s);
      }),
    );
  });

  it('after Retry-After seconds, the tokens asked for are there', () => {
    fc.assert(
      fc.property(limitArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 100 }), (limit: Limit, fill, need) => {
        const n = Math.min(need, limit.burst);
        const tokens = fill * limit.burst;
        const wait = retryAfterSeconds(tokens, n, limit);
        if (tokens >= n) {
          expect(wait).toBe(0);
          return;
        }
        expect(wait).toBeGreaterThanOrEqual(1);
        expect(refill({ tokens, at: 0 }, wait * 1000, limit).tokens).toBeGreaterThanOrEqual(n - 1e-9);
        // And not a whole second later than needed.
        if (wait > 1) expect(refill({ tokens, at: 0 }, (wait - 1) * 1000, limit).tokens).toBeLessThan(n);
      }),
    );
  });

  it('a lease is a tenth of a second\'s worth by default, at least one token, at most the burst', () => {
    expect(leaseSize({ rate: 1000, burst: 2000 }, 0.1)).toBe(100);
    expect(leaseSize({ rate: 5, burst: 5 }, 0.1)).toBe(1);
    expect(leaseSize({ rate: 1000, burst: 20 }, 0.1)).toBe(20);
  });
});
