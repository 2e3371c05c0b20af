/**
 * The signing-key schedule (src/tokens/keySchedule.ts), pure: which key signs
 * when, what a rotation changes, and — over random sequences of scheduled and
 * immediate rotations — that no moment has two signing keys or none, that no
 * scheduled key signs before it has been published for the whole period, and
 * that every token a key signs expires while the key is still published.
 */
import { describe, expect, it } from 'vitest';
import { planRotation, signingKeyAt, type KeyTimes, type RotationMode, type RotationPlan } from '../../src/tokens/keySchedule.ts';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const at = (s: number) => new Date(T0 + s * 1000);
const AHEAD = 900;
const RETIRED_PUBLISH = 3600 + 300;

const key = (kid: string, o: Partial<KeyTimes> = {}): KeyTimes => ({
  kid,
  createdAt: at(0),
  activatesAt: at(0),
  retiredAt: null,
  publishUntil: null,
  immediate: true,
  ...o,
});

/** What the store does with a plan: the same updates and insert, on an array. */
function apply(keys: KeyTimes[], plan: RotationPlan, kid: string): KeyTimes[] {
  const out = keys.map((k) => {
    if (k.kid === plan.withdraw) return { ...k, retiredAt: plan.now, publishUntil: plan.now };
    if (k.kid === plan.retire?.kid) return { ...k, retiredAt: plan.retire.retiredAt, publishUntil: plan.retire.publishUntil };
    return k;
  });
  return [...out, { kid, createdAt: plan.now, activatesAt: plan.activatesAt, retiredAt: null, publishUntil: null, immediate: plan.immediate }];
}

/** The keys the store hands a rotation: those whose signing period had not ended. */
const open = (keys: KeyTimes[], now: Date) => keys.filter((k) => k.retiredAt === null || k.retiredAt.getTime() > now.getTime());

const rotate = (keys: KeyTimes[], now: Date, mode: RotationMode, kid: string) => {
  const plan = planRotation({ keys: open(keys, now), now, mode, publishAheadSeconds: AHEAD, retiredPublishSeconds: RETIRED_PUBLISH });
  return plan ? apply(keys, plan, kid) : keys;
};

describe('signingKeyAt', () => {
  it('signs with nothing when there is no key', () => {
    expect(signingKeyAt([], at(0), AHEAD)).toEqual({ kid: null, reason: 'no signing key is active' });
  });

  it('switches to a scheduled key exactly at its activation, not a millisecond before', () => {
    const keys = rotate([key('a')], at(100), 'scheduled', 'b');
    const activation = at(100 + AHEAD).getTime();
    expect(signingKeyAt(keys, at(100), AHEAD)).toEqual({ kid: 'a' });
    expect(signingKeyAt(keys, new Date(activation - 1), AHEAD)).toEqual({ kid: 'a' });
    expect(signingKeyAt(keys, new Date(activation), AHEAD)).toEqual({ kid: 'b' });
    expect(signingKeyAt(keys, at(100 + AHEAD + 86_400), AHEAD)).toEqual({ kid: 'b' });
  });

  it('refuses a scheduled key published for less than this process\'s period (fail closed), even at its activation', () => {
    // Scheduled by a replica configured with 600 s; this one requires 900 s.
    const keys = [key('a', { retiredAt: at(700), publishUntil: at(700 + RETIRED_PUBLISH) }), key('b', { createdAt: at(100), activatesAt: at(700), immediate: false })];
    const early = signingKeyAt(keys, at(700), AHEAD);
    expect(early.kid).toBeNull();
    expect((early as { reason: string }).reason).toMatch(/key b has been published since .* less than 900 s/);
    expect(signingKeyAt(keys, new Date(at(1000).getTime() - 1), AHEAD).kid).toBeNull();
    expect(signingKeyAt(keys, at(1000), AHEAD)).toEqual({ kid: 'b' });
    // The same rows, read by a process whose period is 600 s: it switches at 700.
    expect(signingKeyAt(keys, at(700), 600)).toEqual({ kid: 'b' });
  });

  it('signs at once with an immediate key (the first key, an emergency rotation)', () => {
    expect(signingKeyAt([key('a', { createdAt: at(5), activatesAt: at(5) })], at(5), AHEAD)).toEqual({ kid: 'a' });
  });

  it('refuses when two keys claim the same moment (rows written by hand)', () => {
    const r = signingKeyAt([key('a'), key('b')], at(10), AHEAD);
    expect(r.kid).toBeNull();
    expect((r as { reason: string }).reason).toBe('keys a, b are active at once');
  });

  it('never signs with a retired or a withdrawn key', () => {
    const retired = key('a', { retiredAt: at(50), publishUntil: at(50 + RETIRED_PUBLISH) });
    expect(signingKeyAt([retired], at(50), AHEAD).kid).toBeNull();
    const withdrawn = key('b', { createdAt: at(10), activatesAt: at(910), retiredAt: at(20), publishUntil: at(20), immediate: false });
    expect(signingKeyAt([withdrawn], at(2000), AHEAD).kid).toBeNull();
  });
});

describe('planRotation', () => {
  it('schedules: the new key signs after the period, the current one retires at that moment and stays published until its last token expires', () => {
    const plan = planRotation({ keys: [key('a')], now: at(100), mode: 'scheduled', publishAheadSeconds: AHEAD, retiredPublishSeconds: RETIRED_PUBLISH });
    expect(plan).toEqual({
      now: at(100),
      activatesAt: at(100 + AHEAD),
      immediate: false,
      retire: { kid: 'a', retiredAt: at(100 + AHEAD), publishUntil: at(100 + AHEAD + RETIRED_PUBLISH) },
      withdraw: undefined,
    });
  });

  it('refuses a second scheduled rotation while one is pending (conflict), and allows it once the first key signs', () => {
    const keys = rotate([key('a')], at(100), 'scheduled', 'b');
    expect(() => planRotation({ keys: open(keys, at(200)), now: at(200), mode: 'scheduled', publishAheadSeconds: AHEAD, retiredPublishSeconds: RETIRED_PUBLISH })).toThrow(
      expect.objectContaining({ code: 'conflict', message: `A rotation is already scheduled: key b signs from ${at(1000).toISOString()}.` }),
    );
    const plan = planRotation({ keys: open(keys, at(1000)), now: at(1000), mode: 'scheduled', publishAheadSeconds: AHEAD, retiredPublishSeconds: RETIRED_PUBLISH });
    expect(plan?.retire?.kid).toBe('b');
  });

  it('immediate: signs now, retires the current key now, and withdraws a pending key that never signed', () => {
    const keys = rotate([key('a')], at(100), 'scheduled', 'b');
    const plan = planRotation({ keys: open(keys, at(300)), now: at(300), mode: 'immediate', publishAheadSeconds: AHEAD, retiredPublishSeconds: RETIRED_PUBLISH });
    expect(plan).toEqual({
      now: at(300),
      activatesAt: at(300),
      immediate: true,
      retire: { kid: 'a', retiredAt: at(300), publishUntil: at(300 + RETIRED_PUBLISH) },
      withdraw: 'b',
    });
    const after = apply(keys, plan!, 'c');
    expect(signingKeyAt(after, at(300), AHEAD)).toEqual({ kid: 'c' });
    // b never signs, though its activation time comes.
    expect(signingKeyAt(after, at(1000), AHEAD)).toEqual({ kid: 'c' });
  });

  it('the first key signs at once whatever the mode; `first` does nothing once a key exists', () => {
    for (const mode of ['first', 'scheduled', 'immediate'] as const) {
      expect(planRotation({ keys: [], now: at(1), mode, publishAheadSeconds: AHEAD, retiredPublishSeconds: RETIRED_PUBLISH })).toMatchObject({ activatesAt: at(1), immediate: true, retire: undefined });
    }
    expect(planRotation({ keys: [key('a')], now: at(1), mode: 'first', publishAheadSeconds: AHEAD, retiredPublishSeconds: RETIRED_PUBLISH })).toBeUndefined();
    const pendingOnly = rotate([key('a')], at(1), 'scheduled', 'b');
    expect(planRotation({ keys: open(pendingOnly, at(2)), now: at(2), mode: 'first', publishAheadSeconds: AHEAD, retiredPublishSeconds: RETIRED_PUBLISH })).toBeUndefined();
  });
});

describe('random rotation sequences', () => {
  /** A small deterministic generator (mulberry32), so a failure can be replayed from its seed. */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('hold the invariants at every second: one signing key, published for the period before it signs, published until its tokens expire', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = random(seed);
      let keys = rotate([], at(0), 'first', 'k0');
      let now = 0;
      let conflicts = 0;
      for (let i = 1; i <= 12; i++) {
        now += Math.floor(rnd() * 1500);
        const mode: RotationMode = rnd() < 0.25 ? 'immediate' : 'scheduled';
        try {
          keys = rotate(keys, at(now), mode, `k${i}`);
        } catch (err) {
          expect(err).toMatchObject({ code: 'conflict' });
          conflicts++;
        }
      }
      const end = now + AHEAD + 10;
      for (let s = 0; s <= end; s += 7) {
        const t = at(s);
        const choice = signingKeyAt(keys, t, AHEAD);
        expect(choice.kid, `seed ${seed}, t=${s}: ${'reason' in choice ? choice.reason : ''}`).not.toBeNull();
        const k = keys.find((x) => x.kid === choice.kid)!;
        if (!k.immediate) expect(t.getTime() - k.createdAt.getTime()).toBeGreaterThanOrEqual(AHEAD * 1000);
        // A token signed now (lifetime ≤ 3600 s) expires before the key leaves the JWKS.
        if (k.publishUntil) expect(k.publishUntil.getTime()).toBeGreaterThanOrEqual(t.getTime() + 3600_000);
        expect(k.createdAt.getTime()).toBeLessThanOrEqual(t.getTime());
      }
      expect(conflicts).toBeLessThan(12);
    }
  });
});
