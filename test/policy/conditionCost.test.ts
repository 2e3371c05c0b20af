/**
 * The cost budget of conditions: a condition whose work grows faster than
 * its inputs (a comprehension over request-sized lists, `cel.bind` doubling)
 * is refused when the policy is written, with the issue at the rule's
 * `when`; a condition that passes for inputs of the API's sizes but meets
 * larger actual inputs is not evaluated, and fails closed (an allow does not
 * apply, a deny does), with the rule named in the reasons. Without the
 * budget, the first condition below blocks the event loop for seconds.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { decide } from '../../src/engine/decide.ts';
import type { ConditionContext } from '../../src/engine/snapshot.ts';
import { compilePolicy, PolicyInvalidError } from '../../src/policy/compile.ts';
import type { ASTNode } from '@marcbachmann/cel-js';
import { compileCondition, ConditionBudgetError, ConditionError } from '../../src/policy/condition.ts';
import { type Bound, estimateCost, join, measure, overLimits, STATIC_BOUNDS, total, UnboundedConditionError, within } from '../../src/policy/conditionCost.ts';
import { columns, dataset, defaultRoles, principal, request, role } from '../engine/support.ts';

const ATTACK = 'request.columns.map(c, request.columns + request.columns + request.columns + request.columns).size() > 0';
const names = (n: number, prefix = 'c') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** The issue the compiler raises for a one-rule policy with this `when` (null: it compiles). */
function issueOf(when: string, effect: 'allow' | 'deny' = 'allow') {
  try {
    compilePolicy({ documents: [{ name: 'cost.yaml', text: stringify({ rules: [{ id: 'costly', effect, roles: ['data-scientist'], actions: ['dataset:read'], when }] }) }], roles: defaultRoles() });
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyInvalidError);
    return (err as PolicyInvalidError).issues[0]!;
  }
}

describe('refused when the policy is written (static estimate over the sizes the API accepts)', () => {
  it.each([
    [ATTACK, /too expensive: .*its cost \(at most \d+\) exceeds the budget of 1000000/],
    ['request.columns.map(c, request.columns).size() > 0', /may build a value of \d+ elements or characters \(the limit is 1000000\)/],
    ['request.columns.filter(c, request.columns.size() > 0 && c + c in request.columns).size() > 0 || request.columns.exists(c, request.columns + request.columns == request.columns)', /exceeds the budget/],
    // No comprehension at all: each bind doubles a list, the growth is exponential in the text.
    ['cel.bind(a, request.columns + request.columns, cel.bind(b, a + a, cel.bind(c, b + b, c.size() > 0)))', /may build a value of \d+ elements or characters \(the limit is 1000000\)/],
    ['cel.bind(s, principal.attributes.note + principal.attributes.note, cel.bind(t, s + s + s + s + s + s + s + s, cel.bind(u, t + t + t + t + t + t + t + t, cel.bind(v, u + u + u + u + u + u + u + u, cel.bind(w, v + v + v + v + v + v + v + v, w.size() > 0)))))', /too expensive/],
  ])('%s', (when, message) => {
    expect(issueOf(when)).toMatchObject({ document: 'cost.yaml', rule: 'costly', field: 'when', message: expect.stringMatching(message) });
  });

  it('refuses a function without a cost model', () => {
    expect(issueOf('b"abc".hex() == "616263"')?.message).toMatch(/hex\(\) is not allowed in conditions \(it has no cost model\)/);
  });

  it.each([
    'resource.project in principal.projects',
    'request.columns.all(c, c in principal.projects)',
    'request.columns.exists(c, c.startsWith("tmp_"))',
    'principal.attributes.clearance >= 2 && request.context.ticket != ""',
    'cel.bind(p, principal.projects, resource.project in p)',
    'request.columns.map(c, c + "_x").size() == request.columns.size()',
  ])('accepts an ordinary condition: %s', (when) => {
    expect(issueOf(when)).toBeNull();
  });
});

describe('checked again before each evaluation, against the actual inputs: over budget fails closed', () => {
  // Passes the static estimate (50 projects are assumed), but a principal with thousands of memberships makes it quadratic.
  const WHEN = 'principal.projects.all(p, p in principal.projects)';
  const many = names(3000, 'p');
  const scientist = (projects: string[]) => principal('s', { roles: [role('data-scientist')], projects });
  const notes = dataset('notes', { project: 'onc', classification: 'phi', columns: columns('x') });
  const policy = (effect: 'allow' | 'deny') =>
    compilePolicy({
      documents: [
        {
          name: 'cost.yaml',
          text: stringify({
            rules: [
              { id: 'scientists', effect: 'allow', roles: ['data-scientist'], actions: ['dataset:read'], columns: 'all', ...(effect === 'allow' ? { when: WHEN } : {}) },
              ...(effect === 'deny' ? [{ id: 'costly-deny', effect: 'deny', roles: ['data-scientist'], actions: ['dataset:read'], when: `!(${WHEN})` }] : []),
            ],
          }),
        },
      ],
      roles: defaultRoles(),
    });

  it('the condition itself refuses to run, quickly, naming the budget', () => {
    const cond = compileCondition(WHEN);
    const ctx = (projects: string[]): ConditionContext => ({
      principal: { id: 's', kind: 'user', projects, vendor: '', attributes: {} },
      resource: { id: 'notes', project: 'onc', owner: 'o', classification: 'phi', purposes: [] },
      request: { action: 'dataset:read', purpose: 'model-training', columns: ['x'], context: {} },
    });
    expect(cond(ctx(['onc', 'cardio']))).toBe(true);
    const t = performance.now();
    expect(() => cond(ctx(many))).toThrow(ConditionBudgetError);
    expect(() => cond(ctx(many))).toThrow(/not evaluated: for these inputs, its cost \(at most \d+\) exceeds the budget of 1000000/);
    expect(performance.now() - t).toBeLessThan(100);
  });

  it('an allow over budget does not apply: denied, and the reason names the rule', () => {
    const s = policy('allow');
    expect(decide(request(scientist(['onc']), notes), s).effect).toBe('allow');
    const d = decide(request(scientist(many), notes), s);
    expect(d.effect).toBe('deny');
    expect(d.reasons).toContain('condition of rule scientists not met');
  });

  it('a deny over budget applies: denied by the rule', () => {
    const s = policy('deny');
    expect(decide(request(scientist(['onc']), notes), s).effect).toBe('allow');
    expect(decide(request(scientist(many), notes), s)).toMatchObject({ effect: 'deny', rules: ['costly-deny'], reasons: ['denied by rule costly-deny'] });
  });

  it('a lower configured budget (CUSTOS_POLICY_CONDITION_MAX_COST) is enforced when written and when evaluated', () => {
    const when = 'request.columns.all(c, c in principal.projects)';
    expect(() => compileCondition(when, { maxCost: 5000, maxElements: 1_000_000 })).toThrow(/too expensive: .*exceeds the budget of 5000/);
    const cond = compileCondition('principal.projects.exists(p, p == resource.project)', { maxCost: 5000, maxElements: 1_000_000 });
    const ctx = (projects: string[]): ConditionContext => ({
      principal: { id: 's', kind: 'user', projects, vendor: '', attributes: {} },
      resource: { id: 'notes', project: 'onc', owner: 'o', classification: 'phi', purposes: [] },
      request: { action: 'dataset:read', purpose: 'model-training', columns: ['x'], context: {} },
    });
    expect(cond(ctx(['onc']))).toBe(true);
    expect(() => cond(ctx(names(2000, 'p')))).toThrow(/exceeds the budget of 5000/);
  });
});

/** Limits no condition here reaches, so that only the one a test sets applies. */
const UNLIMITED = 1e15;
const STATIC_PREFIX = 'too expensive: for requests of the sizes the API accepts, ';

/**
 * Checks a condition's static estimate at both limits' boundaries: at its
 * cost and largest value it compiles; one less budget, or one less element,
 * and it is refused with the figures in the message.
 */
function expectStatic(when: string, cost: number, largest: number) {
  expect(() => compileCondition(when, { maxCost: cost, maxElements: largest })).not.toThrow();
  expect(() => compileCondition(when, { maxCost: cost - 1, maxElements: UNLIMITED })).toThrow(
    new ConditionError(`${STATIC_PREFIX}its cost (at most ${cost}) exceeds the budget of ${cost - 1}`),
  );
  expect(() => compileCondition(when, { maxCost: UNLIMITED, maxElements: largest - 1 })).toThrow(
    new ConditionError(`${STATIC_PREFIX}it may build a value of ${largest} elements or characters (the limit is ${largest - 1})`),
  );
}

describe('the cost model, node by node (static bounds: id 36, project 63, projects 50 × 63, resource 5 fields, …)', () => {
  // Rules (conditionCost.ts): a literal or a variable costs 1; `.` adds 1; every
  // other node costs 1 plus its operands, plus its own work — string work at 0.1
  // per character, anything else at 1 per element; the total is rounded up.
  // "largest" is the largest value a node builds (literals, lists, maps, +,
  // conversions, string results); reading an input builds nothing.
  it.each<[string, number, number, string]>([
    ['"abcdefghijklmnopqrst" == "abcdefghijklmnopqrst"', 5, 20, '1 + 1 + 1, and 20 characters compared at 0.1'],
    ['b"abcdefghij" == b"abcdefghij"', 13, 10, 'bytes are not strings: 1 + 1 + 1 + 10 elements at 1'],
    ['principal.id == "a"', 5, 1, 'principal (1) .id (+1) = 2; 1 + 2 + 1 + min(36, 1) × 0.1 = 4.1 → 5'],
    ['principal.projects[0] == "abcdefghijklmnopqrst"', 8, 20, '[] = 1 + 2 + 1 = 4, an element of 63; 1 + 4 + 1 + min(63, 20) × 0.1 = 8'],
    ['{"a": "bc", "def": "g"}["a"] == "bc"', 12, 8, 'map = 1 + 4 literals + 2 entries = 7, entries up to 3 (total 2 + 2 × 3 = 8); [] = 1 + 7 + 1 = 9; 1 + 9 + 1 + min(3, 2) × 0.1 = 11.2 → 12'],
    ['(true ? "ab" : "cde") == "x"', 7, 3, '?: = 1 + 3 = 4, up to 3 characters; 1 + 4 + 1 + min(3, 1) × 0.1 = 6.1 → 7'],
    ['[1, 2] + [3] == [1]', 18, 6, '[1, 2] = 5 (total 4), [3] = 3; + = 1 + 5 + 3 + 3 elements = 12 (total 3 + 3 = 6); [1] = 3 (total 2); 1 + 12 + 3 + min(6, 2) = 18'],
    ['principal.id + "abcd" == "x"', 11, 40, '+ = 1 + 2 + 1 + 40 × 0.1 = 8, 40 characters; 1 + 8 + 1 + min(40, 1) × 0.1 = 10.1 → 11'],
    ['(1 - 2) * 3 / 4 % 5 == -6', 13, 1, '- = 3, * = 5, / = 7, % = 9; -6 is -(6) = 2; 1 + 9 + 2 + min(1, 1) = 13'],
    ['principal.projects != ["a"]', 8, 2, 'lists compare per element: 1 + 2 + 3 + min(50 + 50 × 63, 2) = 8'],
    ['principal.id < "abcdefghij"', 5, 10, '1 + 2 + 1 + min(36, 10) × 0.1 = 5'],
    ['principal.id <= "abcdefghij"', 5, 10, 'as <'],
    ['principal.id > "abcdefghij"', 5, 10, 'as <'],
    ['principal.id >= "abcdefghij"', 5, 10, 'as <'],
    ['"abcdefghij" in principal.projects', 104, 10, 'each of 50 elements: 1 + min(10, 63) × 0.1 = 2; 1 + 1 + 2 + 50 × 2 = 104'],
    ['dyn(resource) == dyn(resource)', 334, 1, 'a whole resource: 5 fields + 128 + 63 + 36 + 12 + (5 + 5 × 16) = 329 elements; dyn() = 2; 1 + 2 + 2 + 329 = 334'],
    ['string(principal.id) == "x"', 9, 100, 'string() = 1 + 2 + 36 × 0.1 = 6.6, up to 36 + 64 characters; 1 + 6.6 + 1 + min(100, 1) × 0.1 = 8.7 → 9'],
    ['size(principal.projects) == 50', 6, 1, 'size() = 1 + 2 = 3; 1 + 3 + 1 + 1 = 6'],
    ['has(principal.attributes.x)', 4, 1, 'has() = 1 + (1 + 1 + 1) = 4'],
    ['dyn(principal.id) == "x"', 6, 1, 'dyn() = 3, still 36 characters but of type dyn (per element): 1 + 3 + 1 + min(36, 1) = 6'],
    ['timestamp("2020-01-01T00:00:00Z").getHours() == 0', 8, 84, 'timestamp() = 1 + 1 + 20 × 0.1 = 4, up to 20 + 64; getHours() = 5; 1 + 5 + 1 + 1 = 8'],
    ['principal.id.contains("abcde")', 9, 5, '1 + 2 + 1 + (36 + 5) × 0.1 = 8.1 → 9'],
    ['principal.id.lowerAscii() == "a"', 9, 36, 'lowerAscii() = 1 + 2 + 36 × 0.1 = 6.6, 36 characters; 1 + 6.6 + 1 + 0.1 = 8.7 → 9'],
    ['principal.id.upperAscii() == "a"', 9, 36, 'as lowerAscii()'],
    ['principal.id.trim() == "a"', 9, 36, 'as lowerAscii()'],
    ['principal.id.substring(1) == "a"', 10, 36, 'substring() = 1 + 2 + 1 + 3.6 = 7.6; 1 + 7.6 + 1 + 0.1 = 9.7 → 10'],
    ['principal.id.split(",").size() == 2', 48, 1369, 'split() = 1 + 2 + 1 + 36 × 1.1 = 43.6, up to 37 parts of 36 (37 + 37 × 36 = 1369); size() = 44.6; 1 + 44.6 + 1 + 1 = 47.6 → 48'],
    ['principal.projects.join(", ") == "x"', 382, 3250, 'join() builds 50 × (63 + 2) = 3250 characters: 1 + 2 + 1 + 50 + 325 = 379; 1 + 379 + 1 + 0.1 = 381.1 → 382'],
    ['principal.projects.map(p, p).size() == 1', 107, 3200, 'map = 2 + 1 + 50 × (1 + 1) = 103, a list of 50 × 63 (50 + 3150 = 3200); size() = 104; 1 + 104 + 1 + 1 = 107'],
    ['principal.projects.map(p, p != "", p).size() == 1', 257, 3200, 'each = 1 + (1 + 1 + 1 + 0) + 1 = 5: map = 2 + 1 + 250 = 253; 253 + 1 + 1 + 1 + 1 = 257'],
    ['principal.projects.filter(p, true) == ["a"]', 109, 2, 'filter = 2 + 1 + 50 × 2 = 103, the projects list (3200); 1 + 103 + 3 + min(3200, 2) = 109'],
    ['principal.projects.all(p, p == "x")', 208, 1, 'each = 1 + (1 + 1 + 1 + 0.1) = 4.1: 2 + 1 + 50 × 4.1 = 208; all() builds nothing'],
    ['principal.projects.exists(cel, cel.startsWith("a"))', 523, 1, 'a variable named cel is no cel.bind: each = 1 + (1 + 1 + 1 + (63 + 1) × 0.1) = 10.4; 2 + 1 + 50 × 10.4 = 523'],
    ['cel.bind(x, "ab", x == "ab")', 6, 2, 'the value once (1), the body with x of 2 characters (1 + 1 + 1 + 0.2 = 3.2), + 1: 5.2 → 6'],
  ])('%s costs %i and builds at most %i: %s', (when, cost, largest) => {
    expectStatic(when, cost, largest);
  });

  it.each([
    ['bytes("ab") == b"ab"', 'function bytes() is not allowed in conditions (it has no cost model)'],
    ['type(1) == int', 'function type() is not allowed in conditions (it has no cost model)'],
    // Only `cel.bind` is the binding macro: a bind() on any other receiver is an unknown function.
    ['principal.projects.exists(p, p.bind(x, 1, true))', 'function bind() is not allowed in conditions (it has no cost model)'],
    ['"cel".bind(x, 1, true)', 'function bind() is not allowed in conditions (it has no cost model)'],
  ])('refuses a function without a cost model: %s', (when, message) => {
    expect(() => compileCondition(when)).toThrow(new ConditionError(message));
  });

  it('optional selection and indexing (`.?`, `[?]`) cost as plain ones, should the syntax be enabled', () => {
    // The environment does not enable CEL's optional syntax today, so these nodes are built by hand.
    const principalId = { op: '.?', args: [{ op: 'id', args: 'principal' }, 'id'] } as unknown as ASTNode;
    // principal (1) .?id (+1) = 2; the result is a string of at most 36 characters.
    expect(estimateCost(principalId, STATIC_BOUNDS)).toEqual({ cost: 2, largest: 36 });
    const firstProject = { op: '[?]', args: [{ op: '.', args: [{ op: 'id', args: 'principal' }, 'projects'] }, { op: 'value', args: 0n }] } as unknown as ASTNode;
    // 1 + principal.projects (2) + 0 (1) = 4; an element of at most 63 characters.
    expect(estimateCost(firstProject, STATIC_BOUNDS)).toEqual({ cost: 4, largest: 63 });
  });

  it('refuses an operator it has no model for (the model fails closed)', () => {
    const node = { op: 'comprehension', args: [] } as unknown as ASTNode;
    expect(() => estimateCost(node, STATIC_BOUNDS)).toThrow(new UnboundedConditionError('the operator comprehension has no cost model'));
  });
});

describe('the estimate for the actual inputs, when they exceed the static bounds', () => {
  const ctx = (projects: string[], id = 's'): ConditionContext => ({
    principal: { id, kind: 'user', projects, vendor: '', attributes: {} },
    resource: { id: 'notes', project: 'onc', owner: 'o', classification: 'phi', purposes: [] },
    request: { action: 'dataset:read', purpose: 'model-training', columns: ['x'], context: {} },
  });
  /** `onc` and n - 1 other projects, each of 3 characters. */
  const projects = (n: number) => ['onc', ...Array.from({ length: n - 1 }, (_, i) => String(i % 1000).padStart(3, '0'))];

  it('a cheap condition over inputs beyond the static bounds is evaluated', () => {
    const cond = compileCondition('resource.project in principal.projects');
    expect(cond(ctx(projects(3000)))).toBe(true);
    expect(cond(ctx(['x'], 'x'.repeat(500)))).toBe(false);
  });

  it('cost: the budget at the actual cost evaluates, one less is not evaluated', () => {
    // Static: each of 50 projects costs 1 + (1 + 1 + 2 + min(63, 63) × 0.1) = 11.3, so 2 + 1 + 565 = 568.
    // Actual: 200 projects of 3 characters and a project of 3: each 1 + 4.3 = 5.3, so 2 + 1 + 1060 = 1063.
    const when = 'principal.projects.exists(p, p == resource.project)';
    expect(() => compileCondition(when, { maxCost: 567, maxElements: UNLIMITED })).toThrow(/at most 568\)/);
    expect(compileCondition(when, { maxCost: 1063, maxElements: UNLIMITED })(ctx(projects(200)))).toBe(true);
    const over = compileCondition(when, { maxCost: 1062, maxElements: UNLIMITED });
    expect(() => over(ctx(projects(200)))).toThrow(new ConditionBudgetError('not evaluated: for these inputs, its cost (at most 1063) exceeds the budget of 1062'));
    expect(() => over(ctx(projects(200)))).toThrow(ConditionBudgetError);
  });

  it('largest value: at the limit evaluates, one over is not evaluated', () => {
    // Static: a copy of 50 × 63 = 3200 elements and characters. Actual: 2000 × 3 → 2000 + 6000 = 8000.
    const when = 'principal.projects.map(p, p).size() > 0';
    expect(compileCondition(when, { maxCost: UNLIMITED, maxElements: 8000 })(ctx(projects(2000)))).toBe(true);
    const over = compileCondition(when, { maxCost: UNLIMITED, maxElements: 7999 });
    expect(() => over(ctx(projects(2000)))).toThrow(new ConditionBudgetError('not evaluated: for these inputs, it may build a value of 8000 elements or characters (the limit is 7999)'));
    expect(over(ctx(projects(50)))).toBe(true);
  });
});

describe('bounds', () => {
  it('join: the least bound covering both, the same object when there is nothing to join', () => {
    const a: Bound = { n: 2, elem: { n: 3 } };
    expect(join(undefined, undefined)).toBeUndefined();
    expect(join(a, undefined)).toBe(a);
    expect(join(undefined, a)).toBe(a);
    expect(join(a, a)).toBe(a);
    expect(join(a, { n: 5 })).toEqual({ n: 5, elem: { n: 3 } });
    expect(join({ n: 5 }, a)).toEqual({ n: 5, elem: { n: 3 } });
    // A bound with fields contributes each field's bound as an element bound.
    expect(join({ n: 2, fields: { a: { n: 7 }, b: { n: 3 } } }, { n: 1 })).toEqual({ n: 2, elem: { n: 7 } });
  });

  it('total: elements counted through every level, fields included', () => {
    expect(total({ n: 3 })).toBe(3);
    expect(total({ n: 2, elem: { n: 5 } })).toBe(12);
    expect(total({ n: 2, elem: { n: 3, elem: { n: 4 } } })).toBe(2 + 2 * (3 + 3 * 4));
    expect(total({ n: 2, fields: { a: { n: 3 }, b: { n: 4, elem: { n: 2 } } } })).toBe(2 + 3 + (4 + 8));
  });

  it('measure: the exact bound of a value', () => {
    expect(measure('abc')).toEqual({ n: 3 });
    expect(measure('')).toEqual({ n: 0 });
    expect(measure([])).toEqual({ n: 0 });
    expect(measure(['ab', 'abcd'])).toEqual({ n: 2, elem: { n: 4 } });
    expect(measure(new Uint8Array(5))).toEqual({ n: 5 });
    expect(measure({ ab: 'x', c: [1] })).toEqual({ n: 2, elem: { n: 2 }, fields: { ab: { n: 1 }, c: { n: 1, elem: { n: 1 } } } });
    for (const scalar of [5, 5n, true, null, undefined]) expect(measure(scalar)).toEqual({ n: 1 });
  });

  it('within: strings and bytes by length', () => {
    expect(within('abc', { n: 3 })).toBe(true);
    expect(within('abc', { n: 2 })).toBe(false);
    expect(within(new Uint8Array(11), { n: 11 })).toBe(true);
    expect(within(new Uint8Array(11), { n: 10 })).toBe(false);
  });

  it('within: lists by length and each element', () => {
    expect(within(['a', 'b'], { n: 2, elem: { n: 1 } })).toBe(true);
    expect(within(['a', 'b'], { n: 1, elem: { n: 1 } })).toBe(false);
    expect(within(['abc'], { n: 1, elem: { n: 3 } })).toBe(true);
    expect(within(['abc'], { n: 1, elem: { n: 2 } })).toBe(false);
    expect(within(['a', 'abc'], { n: 5, elem: { n: 2 } })).toBe(false);
    // Indexes are not keys: eleven one-character elements fit, though "10" is two characters.
    expect(within(Array<string>(11).fill('a'), { n: 11, elem: { n: 1 } })).toBe(true);
    // Without an element bound, elements are scalars.
    expect(within([1, 2], { n: 2 })).toBe(true);
    expect(within(['ab'], { n: 2 })).toBe(false);
  });

  it('within: objects by entry count, declared fields by their bound, other keys by the element bound', () => {
    expect(within({ a: 'x', b: 'y' }, { n: 2, elem: { n: 1 } })).toBe(true);
    expect(within({ a: 'x', b: 'y' }, { n: 1, elem: { n: 1 } })).toBe(false);
    // A declared field of a long name: its own bound, not the key length limit.
    expect(within({ abcdef: 'x' }, { n: 1, fields: { abcdef: { n: 1 } } })).toBe(true);
    expect(within({ abcdef: 'xy' }, { n: 1, fields: { abcdef: { n: 1 } } })).toBe(false);
    // Other keys: at most as long as the element bound, values within it.
    expect(within({ abcde: 'x' }, { n: 1, elem: { n: 5 } })).toBe(true);
    expect(within({ abcdef: 'x' }, { n: 1, elem: { n: 5 } })).toBe(false);
    expect(within({ a: 'abcdef' }, { n: 1, elem: { n: 5 } })).toBe(false);
    expect(within({ x: 'ab' }, { n: 2, fields: { a: { n: 2 } } })).toBe(true);
    expect(within({ x: 'abc' }, { n: 2, fields: { a: { n: 2 } } })).toBe(false);
    // Without any element bound, other keys are single characters.
    expect(within({ a: 1 }, { n: 1 })).toBe(true);
    expect(within({ ab: 1 }, { n: 1 })).toBe(false);
  });

  it('within: a scalar needs room for one', () => {
    expect(within(5, { n: 1 })).toBe(true);
    expect(within(5, { n: 0 })).toBe(false);
    expect(within(null, { n: 1 })).toBe(true);
    expect(within(true, { n: 0 })).toBe(false);
  });

  it('the static bounds are what the API accepts', () => {
    const ok = ctxOf({ columns: names(2000, 'c'), projects: names(50, 'p') });
    expect(within(ok, STATIC_BOUNDS)).toBe(true);
    expect(within(ctxOf({ columns: names(2001, 'c'), projects: [] }), STATIC_BOUNDS)).toBe(false);
    expect(within(ctxOf({ columns: [], projects: names(51, 'p') }), STATIC_BOUNDS)).toBe(false);
    expect(within(ctxOf({ columns: ['x'.repeat(63)], projects: [] }), STATIC_BOUNDS)).toBe(true);
    expect(within(ctxOf({ columns: ['x'.repeat(64)], projects: [] }), STATIC_BOUNDS)).toBe(false);
  });

  it('overLimits: at each limit passes; over it, says which and by how much (cost first)', () => {
    const limits = { maxCost: 10, maxElements: 20 };
    expect(overLimits({ cost: 10, largest: 20 }, limits)).toBeNull();
    expect(overLimits({ cost: 11, largest: 20 }, limits)).toBe('its cost (at most 11) exceeds the budget of 10');
    expect(overLimits({ cost: 10, largest: 21 }, limits)).toBe('it may build a value of 21 elements or characters (the limit is 20)');
    expect(overLimits({ cost: 11, largest: 21 }, limits)).toBe('its cost (at most 11) exceeds the budget of 10');
  });
});

/** A decision's condition context with these columns and projects. */
function ctxOf(o: { columns: string[]; projects: string[] }): ConditionContext {
  return {
    principal: { id: 's', kind: 'user', projects: o.projects, vendor: '', attributes: {} },
    resource: { id: 'notes', project: 'onc', owner: 'o', classification: 'phi', purposes: [] },
    request: { action: 'dataset:read', purpose: 'model-training', columns: o.columns, context: {} },
  };
}
