/**
 * The check before each condition evaluation reads a decision's context
 * field by field (contextWithin) instead of walking it generically. On
 * well-typed contexts of sizes on both sides of every bound, both answer
 * the same; on a context with a mistyped field, the field-by-field check is
 * the stricter (the condition's cost is then estimated for the actual
 * inputs: slower, never wider).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConditionContext } from '../../src/engine/snapshot.ts';
import { contextWithin, STATIC_BOUNDS, within } from '../../src/policy/conditionCost.ts';

/** A string of `n` characters, `n` drawn around `limit` (under, at, over). */
const around = (limit: number) => fc.integer({ min: Math.max(0, limit - 2), max: limit + 2 }).map((n) => 'x'.repeat(n));
/** A string that is usually short and sometimes just over `limit`. */
const str = (limit: number) => fc.oneof({ weight: 6, arbitrary: around(1) }, { weight: 1, arbitrary: around(limit) });
/** A list of about `limit` (or few) strings of about `elem` characters. */
const strings = (limit: number, elem: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.array(str(elem), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: Math.max(0, limit - 1), max: limit + 1 }).chain((n) => fc.array(str(elem), { minLength: n, maxLength: n })) },
  );
/** A map of dyn values: strings, lists of strings, numbers, booleans. */
const dynMap = (entries: number, keyLength: number, text: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.dictionary(str(keyLength), fc.oneof(str(text), fc.integer(), fc.boolean(), fc.array(str(200), { maxLength: 2 })), { maxKeys: 3 }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: entries - 1, max: entries + 1 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))),
    },
  );

const ctxArb: fc.Arbitrary<ConditionContext> = fc.record({
  principal: fc.record({ id: str(36), kind: str(7), projects: strings(50, 63), vendor: str(63), attributes: dynMap(50, 63, 500) }),
  resource: fc.record({ id: str(128), project: str(63), owner: str(36), classification: str(12), purposes: strings(5, 16) }),
  request: fc.record({ action: str(32), purpose: str(16), columns: strings(2000, 63), context: dynMap(50, 64, 500) }),
});

describe('contextWithin', () => {
  it('answers as the generic walk does, on contexts of sizes on both sides of each bound', () => {
    let inside = 0;
    let outside = 0;
    fc.assert(
      fc.property(ctxArb, (ctx) => {
        const want = within(ctx, STATIC_BOUNDS);
        expect(contextWithin(ctx)).toBe(want);
        if (want) inside++;
        else outside++;
      }),
      { numRuns: 1500, seed: 20261207 },
    );
    expect(inside).toBeGreaterThan(100);
    expect(outside).toBeGreaterThan(100);
  });

  it('reads every field the bounds declare (a field added to them cannot be left out of the check)', () => {
    const read = new Set<string>();
    const ctx: ConditionContext = {
      principal: { id: 'a', kind: 'user', projects: ['p'], vendor: '', attributes: {} },
      resource: { id: 'd', project: 'p', owner: 'o', classification: 'phi', purposes: [] },
      request: { action: 'dataset:read', purpose: 'research', columns: ['x'], context: {} },
    };
    const watched = Object.fromEntries(
      Object.entries(ctx).map(([variable, fields]) => [variable, new Proxy(fields, { get: (t, k) => (read.add(`${variable}.${String(k)}`), Reflect.get(t, k)) })]),
    ) as unknown as ConditionContext;
    expect(contextWithin(watched)).toBe(true);
    const declared = Object.entries(STATIC_BOUNDS.fields!).flatMap(([variable, b]) => Object.keys(b.fields!).map((f) => `${variable}.${f}`));
    expect([...read].sort()).toEqual(declared.sort());
  });

  it('is the stricter on a declared field of another type', () => {
    const ctx: ConditionContext = {
      principal: { id: 'a', kind: 'user', projects: ['p'], vendor: '', attributes: {} },
      resource: { id: 'd', project: 'p', owner: 'o', classification: 'phi', purposes: [] },
      request: { action: 'dataset:read', purpose: 'research', columns: ['x'], context: {} },
    };
    expect(contextWithin(ctx)).toBe(true);
    const odd = { ...ctx, principal: { ...ctx.principal, vendor: 5 } } as unknown as ConditionContext;
    expect(within(odd, STATIC_BOUNDS)).toBe(true);
    expect(contextWithin(odd)).toBe(false);
    expect(contextWithin({ ...ctx, principal: { ...ctx.principal, projects: [7] } } as unknown as ConditionContext)).toBe(false);
  });
});
