/**
 * Rules whose condition pins a principal or a dataset by id are looked up
 * only under those ids, and decide exactly as if every rule were looked at:
 * an indexed rule applies to its own principal only (the one being decided:
 * a service's sponsor is decided under the sponsor's id), a deny pinned to
 * another principal still applies when its condition refuses to run, and a
 * decision never even evaluates the conditions of other principals' rules.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { decide, ruleEffect } from '../../src/engine/decide.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { compileCondition } from '../../src/policy/condition.ts';
import type { ConditionLimits } from '../../src/policy/conditionCost.ts';
import { columns, dataset, defaultRoles, grant, principal, request, role, snapshotOf } from './support.ts';

const notes = dataset('notes', { project: 'onc', classification: 'phi', columns: columns('x') });
const scientist = (id: string, over: Parameters<typeof principal>[1] = {}) => principal(id, { roles: [role('data-scientist', 'onc')], projects: ['onc'], ...over });
const allow = (id: string, when: string, over: Record<string, unknown> = {}) => ({ id, effect: 'allow', roles: ['data-scientist'], actions: ['dataset:read'], columns: 'all', when, ...over });

describe('a rule pinned to principals applies to them only', () => {
  // A thousand stewards, each with a rule of their own: the shape the index is for.
  const stewards = Array.from({ length: 1000 }, (_, i) => `steward-${i}`);
  const s = snapshotOf(
    stringify({
      rules: [
        ...stewards.map((p) => allow(`own-${p}`, `principal.id == "${p}" && resource.project in principal.projects`)),
        allow('pair', 'principal.id in ["ann", "bob"]'),
      ],
    }),
  );

  it('each steward is allowed by their own rule, and only by it', () => {
    for (const p of ['steward-0', 'steward-517', 'steward-999']) expect(decide(request(scientist(p), notes), s)).toMatchObject({ effect: 'allow', rules: [`own-${p}`] });
    expect(decide(request(scientist('steward-1000'), notes), s).effect).toBe('deny');
    expect(decide(request(scientist('ann'), notes), s)).toMatchObject({ effect: 'allow', rules: ['pair'] });
    expect(decide(request(scientist('bob'), notes), s)).toMatchObject({ effect: 'allow', rules: ['pair'] });
  });

  it('the whole condition is still evaluated for the pinned principal', () => {
    // steward-3 outside the dataset's project: the pin matches, the rest of the condition does not.
    const d = decide(request(scientist('steward-3', { roles: [role('data-scientist')], projects: [] }), notes), s);
    expect(d.effect).toBe('deny');
    expect(d.reasons).toContain('condition of rule own-steward-3 not met');
  });

  it("a deny names only the conditions of the principal's own rules: the others' were never evaluated", () => {
    const d = decide(request(scientist('carol', { projects: [] }), notes), s);
    expect(d.effect).toBe('deny');
    expect(d.reasons).toEqual(['no rule allows dataset:read on phi dataset notes for purpose model-training with role(s) data-scientist']);
    const steward = decide(request(scientist('steward-5', { projects: [] }), notes), s);
    expect(steward.reasons.filter((r) => r.startsWith('condition of'))).toEqual(['condition of rule own-steward-5 not met']);
  });
});

describe('a service and its sponsor are each looked up under their own id', () => {
  const s = snapshotOf(stringify({ rules: [allow('for-job', 'principal.id == "svc-train"'), allow('for-alice', 'principal.id == "alice"')] }));
  const alice = scientist('alice');
  const job = (sponsor = alice) => scientist('svc-train', { kind: 'service', sponsor });

  it("the service's rule for it, the sponsor's rule for her", () => {
    expect(decide(request(job(), notes), s)).toMatchObject({ effect: 'allow', rules: ['for-alice', 'for-job'] });
  });

  it('a sponsor without a rule of her own denies the service', () => {
    const d = decide(request(job(scientist('mallory')), notes), s);
    expect(d.effect).toBe('deny');
    expect(d.reasons[0]).toMatch(/^sponsor lacks access: no rule allows/);
  });
});

describe('rules pinned to datasets', () => {
  const s = snapshotOf(
    stringify({
      rules: [
        allow('by-condition', 'resource.id in ["notes", "labs"]'),
        allow('both', 'resource.id == "labs"', { resource: { datasets: ['notes', 'labs'] } }),
        allow('disjoint', 'resource.id == "imaging"', { resource: { datasets: ['notes'] } }),
      ],
    }),
  );
  const labs = dataset('labs', { project: 'onc', classification: 'phi', columns: columns('x') });
  const imaging = dataset('imaging', { project: 'onc', classification: 'phi', columns: columns('x') });

  it('apply on the datasets both the resource and the condition name', () => {
    const p = scientist('u');
    expect(decide(request(p, notes), s)).toMatchObject({ effect: 'allow', rules: ['by-condition'] });
    expect(decide(request(p, labs), s)).toMatchObject({ effect: 'allow', rules: ['both', 'by-condition'] });
    expect(decide(request(p, imaging), s).effect).toBe('deny');
  });
});

describe('a deny pinned to another principal still applies when its condition refuses to run', () => {
  const NOT_X = 'principal.id == "x" && principal.projects.exists(p, p == resource.project)';
  /** A scientist-allowing policy with a deny pinned to x, under a cost budget. */
  const policy = (limits: ConditionLimits) =>
    compilePolicy({
      documents: [{ name: 'test.yaml', text: stringify({ rules: [allow('scientists', 'true'), { id: 'not-x', effect: 'deny', roles: ['data-scientist'], actions: ['dataset:read'], when: NOT_X }] }) }],
      roles: defaultRoles(),
      conditionLimits: limits,
    });
  /** The condition's cost for inputs of the sizes the API accepts (50 projects of 63 characters), as the compiler states it. */
  const staticCost = (): number => {
    try {
      compileCondition(NOT_X, { maxCost: 1, maxElements: 1e6 });
    } catch (err) {
      return Number(/its cost \(at most ([\d.]+)\)/.exec((err as Error).message)![1]);
    }
    throw new Error('compiled within a budget of 1');
  };
  // A tight budget: the condition is within it for 50 projects (the API's sizes), over it for 1,000.
  const s = policy({ maxCost: 1000, maxElements: 1e6 });
  const many = Array.from({ length: 1000 }, (_, i) => `p${i}`);

  it('within budget, it is false for anyone but x', () => {
    expect(decide(request(scientist('y'), notes), s).effect).toBe('allow');
    expect(decide(request(scientist('x'), notes), s)).toMatchObject({ effect: 'deny', rules: ['not-x'] });
  });

  it('over budget, it refuses and the deny applies to y too, as it did before rules were indexed', () => {
    const y = scientist('y', { projects: ['onc', ...many] });
    expect(decide(request(y, notes), s)).toMatchObject({ effect: 'deny', rules: ['not-x'] });
    expect(ruleEffect(request(y, notes), s)).toBe('deny');
  });

  it('so does a membership grant that takes the principal just over the sizes the API accepts', () => {
    // Exactly the budget of 50 projects of 63 characters: the grant's project makes 51, for the grant's rules only.
    const tight = policy({ maxCost: staticCost(), maxElements: 1e6 });
    const long = (name: string) => name.padEnd(63, '-');
    const wide = dataset('wide', { project: long('onc'), classification: 'phi', columns: columns('x') });
    const fifty = Array.from({ length: 50 }, (_, i) => long(`q${i}`));
    const y = principal('y', { projects: fifty, grants: [grant('g1', { role: 'data-scientist', project: wide.project })] });
    expect(decide(request(y, wide), tight)).toMatchObject({ effect: 'deny', rules: ['not-x'] });
    // Without the grant's membership the same principal is within budget, and x's deny is false for y.
    const standing = principal('y', { projects: fifty, roles: [role('data-scientist')] });
    expect(decide(request(standing, wide), tight).effect).toBe('allow');
  });
});
