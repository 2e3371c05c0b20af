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
import { compileCondition, ConditionBudgetError } from '../../src/policy/condition.ts';
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
