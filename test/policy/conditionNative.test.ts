/**
 * Conjuncts compiled to plain functions must mean what CEL means: random
 * expressions over every typed field of the context, string and list
 * literals, ==, !=, in, &&, ||, ! and ?:, evaluated both ways on random
 * contexts, agree on every one. Expressions outside the typed subset are
 * left to CEL (nativeOf answers null), and a context field that is not of
 * its declared type is refused, not read as something else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConditionContext } from '../../src/engine/snapshot.ts';
import { analyseCondition, conditionEnvironment } from '../../src/policy/condition.ts';
import { nativeOf } from '../../src/policy/conditionNative.ts';

/** The conditions' own CEL environment: the declarations the subset relies on. */
const env = conditionEnvironment;

/** A few values, so that fields and literals meet often. */
const WORDS = ['a', 'b', 'p0', 'p1', '', 'é', 'A'];
const STRING_FIELDS = ['principal.id', 'principal.kind', 'principal.vendor', 'resource.id', 'resource.project', 'resource.owner', 'resource.classification', 'request.action', 'request.purpose'];
const LIST_FIELDS = ['principal.projects', 'resource.purposes', 'request.columns'];

const stringArb = fc.oneof(fc.constantFrom(...STRING_FIELDS), fc.constantFrom(...WORDS).map((w) => JSON.stringify(w)));
const listArb = fc.oneof(
  fc.constantFrom(...LIST_FIELDS),
  fc.array(fc.constantFrom(...WORDS), { maxLength: 3 }).map((ws) => `[${ws.map((w) => JSON.stringify(w)).join(', ')}]`),
);
const exprArb: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(stringArb, stringArb).map(([a, b]) => `${a} == ${b}`),
    fc.tuple(stringArb, stringArb).map(([a, b]) => `${a} != ${b}`),
    fc.tuple(stringArb, listArb).map(([a, b]) => `${a} in ${b}`),
    fc.constantFrom('true', 'false'),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a}) && (${b})`),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a}) || (${b})`),
    tie('e').map((a) => `!(${a})`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([a, b, c]) => `(${a}) ? (${b}) : (${c})`),
  ),
})).e;

const wordArb = fc.constantFrom(...WORDS);
const wordsArb = fc.array(wordArb, { maxLength: 3 });
const ctxArb: fc.Arbitrary<ConditionContext> = fc.record({
  principal: fc.record({ id: wordArb, kind: wordArb, projects: wordsArb, vendor: wordArb, attributes: fc.constant({}) }),
  resource: fc.record({ id: wordArb, project: wordArb, owner: wordArb, classification: wordArb, purposes: wordsArb }),
  request: fc.record({ action: wordArb, purpose: wordArb, columns: wordsArb, context: fc.constant({}) }),
});

describe('conditions in the typed subset, as plain functions', () => {
  it('agree with the CEL evaluator on random expressions and contexts', () => {
    let trues = 0;
    let falses = 0;
    fc.assert(
      fc.property(exprArb, fc.array(ctxArb, { minLength: 1, maxLength: 5 }), (text, ctxs) => {
        const parsed = env.parse(text);
        const native = nativeOf(parsed.ast);
        expect(native, text).not.toBeNull();
        for (const ctx of ctxs) {
          const want = parsed(ctx as unknown as Record<string, unknown>);
          expect(native!(ctx), `${text} on ${JSON.stringify(ctx)}`).toBe(want);
          if (want) trues++;
          else falses++;
        }
      }),
      { numRuns: 3000, seed: 20261207 },
    );
    // Both answers must be common, or agreement proves little.
    expect(trues).toBeGreaterThan(1500);
    expect(falses).toBeGreaterThan(1500);
  });

  it.each([
    'principal.attributes.suspended == true',
    'principal.attributes.x == "a"',
    'request.context.k == "a"',
    'principal.id == principal.attributes.owner',
    'principal.projects[0] == "p"',
    'size(principal.projects) == 1',
    'principal.id.startsWith("a")',
    'principal.projects.exists(p, p == "a")',
    'principal.id + "x" == "ax"',
    '1 == 1',
    'principal.id in {"a": 1}',
    'principal.id == "a" && principal.attributes.level >= 2',
    'principal.id == b"a"',
  ])('%s is left to CEL', (text) => {
    expect(nativeOf(env.parse(text).ast)).toBeNull();
  });

  it('a field that is not of its declared type is refused, and the engine fails closed on it', () => {
    const ctx = (principal: Record<string, unknown>): ConditionContext =>
      ({
        principal: { id: 'a', kind: 'user', projects: ['p0'], vendor: '', attributes: {}, ...principal },
        resource: { id: 'd', project: 'p0', owner: 'o', classification: 'phi', purposes: [] },
        request: { action: 'dataset:read', purpose: 'research', columns: ['x'], context: {} },
      }) as ConditionContext;
    const member = nativeOf(env.parse('resource.project in principal.projects').ast)!;
    const notVendor = nativeOf(env.parse('principal.vendor != "acme"').ast)!;
    expect([member(ctx({})), notVendor(ctx({}))]).toEqual([true, true]);
    expect(() => member(ctx({ projects: 'p0' }))).toThrow(/principal.projects is not of its declared type/);
    expect(() => notVendor(ctx({ vendor: undefined }))).toThrow(/principal.vendor is not of its declared type/);
    // Through a compiled condition: an allow does not apply on it (the engine reads a throw as unmet for an allow, met for a deny).
    expect(() => analyseCondition('principal.vendor != "acme"').evaluate(ctx({ vendor: null }))).toThrow();
  });
});
