/**
 * The condition analyser: which conditions pin the principal or the dataset
 * by id, and which do not. A condition it pins must be false — never true,
 * never an error — for every id outside the pin, or the index would drop a
 * rule that applies; the last test checks that against the evaluator on
 * random conditions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConditionContext } from '../../src/engine/snapshot.ts';
import { analyseCondition, ConditionError, sharedParts } from '../../src/policy/condition.ts';

/** What a condition pins, as sorted lists (null: not pinned). */
function pinsOf(when: string): { principals: string[] | null; datasets: string[] | null } {
  const { pins } = analyseCondition(when);
  const list = (s: ReadonlySet<string> | null) => (s ? [...s].sort() : null);
  return { principals: list(pins.principals), datasets: list(pins.datasets) };
}

const UUID = '9f1c7a52-3b0e-4c8f-a1d2-6e5b4c3a2f10';

describe('pinned: a conjunct compares the id with string literals', () => {
  it.each<[string, string[] | null, string[] | null]>([
    [`principal.id == "${UUID}"`, [UUID], null],
    [`"${UUID}" == principal.id`, [UUID], null],
    ['principal.id in ["a", "b"]', ['a', 'b'], null],
    ['principal.id in ["a", "a"]', ['a'], null],
    ['(principal.id == "a")', ['a'], null],
    ['principal.id == "a" && resource.project in principal.projects', ['a'], null],
    ['resource.project in principal.projects && principal.id == "a"', ['a'], null],
    ['request.purpose == "research" && principal.id in ["a", "b"] && principal.attributes.level >= 2', ['a', 'b'], null],
    // A parenthesised && is still a conjunction.
    ['request.purpose == "research" && (principal.attributes.level >= 2 && principal.id == "a")', ['a'], null],
    // Inside an operand that is itself a disjunction, only the outer conjunct pins.
    ['principal.id == "a" && (request.purpose == "research" || principal.id == "b")', ['a'], null],
    ['resource.id == "ds-1"', null, ['ds-1']],
    ['"ds-1" == resource.id', null, ['ds-1']],
    ['resource.id in ["ds-1", "ds-2"] && request.purpose == "research"', null, ['ds-1', 'ds-2']],
    ['principal.id == "a" && resource.id == "ds-1"', ['a'], ['ds-1']],
    // Two pins of one variable: only ids both allow; disjoint ones allow none.
    ['principal.id in ["a", "b"] && principal.id == "b"', ['b'], null],
    ['principal.id == "a" && principal.id == "b"', [], null],
    ['principal.id in []', [], null],
    // The literal's value, not its spelling.
    ["principal.id == 'a'", ['a'], null],
    ['principal.id == """a"""', ['a'], null],
    ['principal.id == r"a\\n"', ['a\\n'], null],
    ['principal.id == "a\\u0062"', ['ab'], null],
  ])('%s', (when, principals, datasets) => {
    expect(pinsOf(when)).toEqual({ principals, datasets });
  });
});

describe('not pinned: the condition may hold for other ids', () => {
  it.each([
    'principal.id == "a" || request.purpose == "research"',
    'request.purpose == "research" || principal.id == "a"',
    'principal.id == "a" || principal.id == "b"',
    '!(principal.id == "a")',
    '!(principal.id != "a")',
    'principal.id != "a"',
    '(principal.id == "a") == true',
    '(principal.id == "a") != false',
    'principal.id == "a" ? true : request.purpose == "research"',
    'request.purpose == "research" ? principal.id == "a" : true',
    '[principal.id == "a"][0]',
    '{"k": principal.id == "a"}["k"]',
    'principal.projects.exists(p, principal.id == "a")',
    'principal.projects.all(p, principal.id == "a")',
    'principal["id"] == "a"',
    'dyn(principal).id == "a"',
    'principal.attributes.id == "a"',
    'principal.vendor == "a"',
    'resource.owner == "a"',
    'resource.project == "a"',
    'principal.id == resource.owner',
    'principal.id == resource.id',
    'principal.id == "a" + "b"',
    'principal.id == string(1)',
    'principal.id in ["a", principal.vendor]',
    'principal.id in principal.projects',
    'principal.id in ["a"] + ["b"]',
    'principal.id.startsWith("a")',
    'principal.id.size() == 1',
    'resource.id != "ds-1"',
    '!(resource.id in ["ds-1"])',
    'resource.id == "ds-1" || true',
    'true',
  ])('%s', (when) => {
    expect(pinsOf(when)).toEqual({ principals: null, datasets: null });
  });

  it('a pin of one variable says nothing about the other', () => {
    expect(pinsOf('principal.id == "a" && resource.project == "p"')).toEqual({ principals: ['a'], datasets: null });
    expect(pinsOf('resource.id == "d" || principal.id == "a"')).toEqual({ principals: null, datasets: null });
  });
});

describe('a pinned condition is false for every id outside its pin (the index drops nothing)', () => {
  // Atoms: pins, decoys that look like pins, conditions that are true, false, or fail at evaluation.
  const ATOMS = [
    'principal.id == "a"',
    '"b" == principal.id',
    'principal.id in ["a", "c"]',
    'principal.id != "a"',
    'resource.id == "d1"',
    'resource.id in ["d1", "d2"]',
    '"d2" == resource.id',
    'principal.attributes.missing == 1',
    'principal.attributes.level >= 2',
    'request.purpose == "research"',
    'resource.project in principal.projects',
    // dyn: a boolean, a number (a non-boolean operand of && or ||: an error) or missing.
    'principal.attributes.flag',
    'true',
    'false',
  ];
  const conditionArb: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
    c: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...ATOMS),
      fc.tuple(tie('c'), tie('c')).map(([a, b]) => `(${a}) && (${b})`),
      fc.tuple(tie('c'), tie('c')).map(([a, b]) => `(${a}) || (${b})`),
      tie('c').map((a) => `!(${a})`),
      fc.tuple(tie('c'), tie('c'), tie('c')).map(([a, b, c]) => `(${a}) ? (${b}) : (${c})`),
    ),
  })).c;
  const ctxArb = fc.record({
    principal: fc.constantFrom('a', 'b', 'c', 'z'),
    dataset: fc.constantFrom('d1', 'd2', 'd3'),
    level: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    flag: fc.option(fc.oneof(fc.boolean(), fc.integer({ min: 0, max: 1 })), { nil: undefined }),
    purpose: fc.constantFrom('research', 'model-training'),
    member: fc.boolean(),
  });
  const contextOf = (c: { principal: string; dataset: string; level: number | undefined; flag: boolean | number | undefined; purpose: string; member: boolean }): ConditionContext => ({
    principal: { id: c.principal, kind: 'user', projects: c.member ? ['p0'] : [], vendor: '', attributes: { ...(c.level === undefined ? {} : { level: c.level }), ...(c.flag === undefined ? {} : { flag: c.flag }) } },
    resource: { id: c.dataset, project: 'p0', owner: 'o', classification: 'phi', purposes: [] },
    request: { action: 'dataset:read', purpose: c.purpose, columns: ['x'], context: {} },
  });

  /** A condition's compiled forms, split (pins, then the rest) and whole; null when it does not compile (a bare dyn atom). */
  const compiled = (when: string) => {
    try {
      return { split: analyseCondition(when), whole: analyseCondition(when, undefined, null) };
    } catch (err) {
      expect(err).toBeInstanceOf(ConditionError);
      return null;
    }
  };
  /** The value, or that it threw (the engine treats every throw alike). */
  const outcome = (f: () => boolean): boolean | 'throws' => {
    try {
      return f();
    } catch {
      return 'throws';
    }
  };

  it('on random &&, ||, ! and ?: over pins, decoys and failing atoms', () => {
    let pinned = 0;
    let outside = 0;
    let inside = 0;
    fc.assert(
      fc.property(conditionArb, fc.array(ctxArb, { minLength: 1, maxLength: 6 }), (when, ctxs) => {
        const c = compiled(when);
        if (!c) return;
        const { pins } = c.split;
        if (pins.principals || pins.datasets) pinned++;
        for (const x of ctxs) {
          const ctx = contextOf(x);
          // Split or whole, a condition means the same: the same value, or both throw.
          expect(outcome(() => c.split.evaluate(ctx)), `${when} for ${JSON.stringify(x)}`).toBe(outcome(() => c.whole.evaluate(ctx)));
          const off = (pins.principals && !pins.principals.has(x.principal)) || (pins.datasets && !pins.datasets.has(x.dataset));
          if (!off) {
            if (pins.principals || pins.datasets) inside++;
            continue;
          }
          outside++;
          // False, and not an error: an error would make a deny apply, and the index would have skipped it.
          expect(c.whole.evaluate(ctx), `${when} for ${x.principal}/${x.dataset}`).toBe(false);
        }
      }),
      { numRuns: 2000, seed: 20261207 },
    );
    // The generator must produce pinned conditions, and contexts outside and inside their pins, or this proves little.
    expect(pinned).toBeGreaterThan(200);
    expect(outside).toBeGreaterThan(400);
    expect(inside).toBeGreaterThan(400);
  });
});

describe('a pinned condition is evaluated as its pins, then the rest, compiled once', () => {
  it('conditions that differ only in their pins share one compiled rest, and one plain function per conjunct', () => {
    const shared = sharedParts();
    const a = analyseCondition('principal.id == "a" && resource.project in principal.projects', undefined, shared);
    const b = analyseCondition('resource.project in principal.projects && principal.id in ["b", "c"]', undefined, shared);
    analyseCondition('principal.id == "d"', undefined, shared);
    const c = analyseCondition('principal.id == "e" && principal.attributes.level >= 2 && resource.project in principal.projects', undefined, shared);
    analyseCondition('principal.attributes.level >= 2 && principal.id == "f"', undefined, shared);
    // The conjunct in the typed subset is a plain function (conditionNative.ts); the dyn one is left to CEL, as one rest.
    expect([...shared.natives.keys()]).toEqual(['resource.project in principal.projects']);
    expect([...shared.rests.keys()]).toEqual(['(principal.attributes.level >= 2)']);
    const ctx = (id: string, projects: string[]): ConditionContext => ({
      principal: { id, kind: 'user', projects, vendor: '', attributes: {} },
      resource: { id: 'd', project: 'onc', owner: 'o', classification: 'phi', purposes: [] },
      request: { action: 'dataset:read', purpose: 'research', columns: ['x'], context: {} },
    });
    expect([a.evaluate(ctx('a', ['onc'])), a.evaluate(ctx('a', [])), a.evaluate(ctx('b', ['onc']))]).toEqual([true, false, false]);
    expect([b.evaluate(ctx('c', ['onc'])), b.evaluate(ctx('a', ['onc']))]).toEqual([true, false]);
    const level = (id: string, projects: string[], attributes: Record<string, unknown>) => ({ ...ctx(id, projects), principal: { ...ctx(id, projects).principal, attributes } });
    expect([c.evaluate(level('e', ['onc'], { level: 2 })), c.evaluate(level('e', [], { level: 2 })), c.evaluate(level('e', ['onc'], { level: 1 }))]).toEqual([true, false, false]);
    // The native conjunct is false, so the missing attribute's error is absorbed, as CEL's && absorbs it; with it true, the error stands.
    expect(c.evaluate(level('e', [], {}))).toBe(false);
    expect(() => c.evaluate(level('e', ['onc'], {}))).toThrow();
  });

  it('a non-boolean rest is an error, as a non-boolean operand of && is in CEL', () => {
    const when = 'principal.id == "a" && principal.attributes.flag';
    const ctx: ConditionContext = {
      principal: { id: 'a', kind: 'user', projects: [], vendor: '', attributes: { flag: 1 } },
      resource: { id: 'd', project: 'onc', owner: 'o', classification: 'phi', purposes: [] },
      request: { action: 'dataset:read', purpose: 'research', columns: ['x'], context: {} },
    };
    expect(() => analyseCondition(when, undefined, null).evaluate(ctx)).toThrow();
    expect(() => analyseCondition(when).evaluate(ctx)).toThrow();
    expect(analyseCondition(when).evaluate({ ...ctx, principal: { ...ctx.principal, id: 'b' } })).toBe(false);
  });
});
