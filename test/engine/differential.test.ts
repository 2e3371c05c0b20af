/**
 * casbin stays the engine of record: random policies, role graphs, role
 * assignments, grants and requests go through the fast path (ruleEffect) and
 * through plain casbin enforcement of policies/model.conf, which must agree
 * on every request. decide() may only be stricter than the rule effect, and
 * an allow cites exactly the grants it relied on.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, ruleEffect } from '../../src/engine/decide.ts';
import type { PolicySnapshot } from '../../src/engine/snapshot.ts';
import type { DatasetFacts, Decision, DecisionInput, GrantFacts, PrincipalFacts } from '../../src/engine/types.ts';
import { buildCasbinReference, casbinEffect } from '../../src/policy/casbin.ts';
import { compilePolicy } from '../../src/policy/compile.ts';

const ROLES = ['r0', 'r1', 'r2', 'r3', 'r4'];
const PROJECTS = ['p0', 'p1', 'p2'];
const CLASSES = ['deidentified', 'limited', 'phi'] as const;
const PURPOSES = ['model-training', 'model-evaluation', 'research', 'operations', 'emergency'] as const;
const DATASETS = ['d0', 'd1', 'd2', 'd3'];
const CONDITIONS = [
  'principal.attributes.level >= 2',
  'resource.project in principal.projects',
  'request.purpose == "research"',
  'principal.attributes.missing == 1', // errors at evaluation: fail closed both ways
  'resource.classification != "phi" || principal.attributes.level >= 3',
];
const NOW = Date.UTC(2026, 5, 1, 12);

const subset = <T>(xs: readonly T[]) => fc.subarray([...xs], { minLength: 0, maxLength: xs.length });
/** Mostly "any" (empty), sometimes a restriction: keeps allows frequent enough to compare. */
const anyOrSome = <T>(xs: readonly T[]) => fc.oneof({ weight: 2, arbitrary: fc.constant([] as T[]) }, { weight: 1, arbitrary: fc.subarray([...xs], { minLength: 1 }) });

const ruleArb = fc.record({
  effect: fc.constantFrom('allow', 'deny'),
  roles: fc.subarray(ROLES, { minLength: 1, maxLength: 2 }),
  datasets: anyOrSome(DATASETS),
  projects: anyOrSome(PROJECTS),
  classification: anyOrSome(CLASSES),
  purposes: anyOrSome(PURPOSES),
  when: fc.option(fc.constantFrom(...CONDITIONS), { nil: undefined, freq: 2 }),
});

const grantArb = fc.record({
  role: fc.constantFrom(...ROLES),
  project: fc.option(fc.constantFrom(...PROJECTS), { nil: null }),
  // Now and then scoped to one dataset too (not always one of the grant's project: such a grant covers nothing).
  dataset: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...DATASETS) }),
  // active, expired (exactly at expiry too) or not yet active
  window: fc.oneof(
    { weight: 4, arbitrary: fc.constant<[number, number]>([-3600_000, 3600_000]) },
    { weight: 4, arbitrary: fc.constantFrom<[number, number]>([-7200_000, 0], [-7200_000, -1], [1, 3600_000], [-1000, 1]) },
  ),
  breakGlass: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const principalArb = fc.record({
  roles: fc.array(fc.record({ role: fc.constantFrom(...ROLES), project: fc.option(fc.constantFrom(...PROJECTS), { nil: null }) }), { minLength: 0, maxLength: 3 }),
  // Often a grant beside standing roles of the same or other projects: which grants an allow cites is checked too.
  grants: fc.array(grantArb, { maxLength: 3 }),
  level: fc.integer({ min: 0, max: 3 }),
  projects: subset(PROJECTS),
});

const worldArb = fc.record({
  inherits: fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 })), { maxLength: 5 }),
  rules: fc.array(ruleArb, { minLength: 1, maxLength: 12 }),
  principals: fc.array(principalArb, { minLength: 1, maxLength: 3 }),
  datasets: fc.array(fc.record({ project: fc.constantFrom(...PROJECTS), classification: fc.constantFrom(...CLASSES) }), { minLength: 4, maxLength: 4 }),
  requests: fc.array(fc.record({ p: fc.nat(), d: fc.nat(), purpose: fc.constantFrom(...PURPOSES) }), { minLength: 1, maxLength: 8 }),
});

function yamlOf(rules: any[]): string {
  // JSON is valid YAML; the compiler parses it like any rule document.
  return JSON.stringify({
    rules: rules.map((r, i) => ({
      id: `rule-${i}`,
      effect: r.effect,
      roles: r.roles,
      actions: ['dataset:read'],
      ...(r.datasets.length || r.projects.length || r.classification.length
        ? {
            resource: {
              ...(r.datasets.length ? { datasets: r.datasets } : {}),
              ...(r.projects.length ? { projects: r.projects } : {}),
              ...(r.classification.length ? { classification: r.classification } : {}),
            },
          }
        : {}),
      ...(r.purposes.length ? { purposes: r.purposes } : {}),
      ...(r.when ? { when: r.when } : {}),
      ...(r.effect === 'allow' ? { columns: 'all' } : {}),
    })),
  });
}

/**
 * The grants an allow cites are exactly those it relied on (a token dies with
 * any of them, and its lifetime is capped by their expiry):
 * - each is in force and scoped to the dataset (its project, or organisation-wide; its dataset, or any);
 * - they suffice: with every other grant taken away the decision is the same;
 * - they are needed: with all of them taken away, it is no longer the same allow.
 */
function citedGrantsContributed(input: DecisionInput, snapshot: PolicySnapshot, d: Decision, why: string): void {
  const cited = input.principal.grants.filter((g) => d.grantIds.includes(g.id));
  expect(cited.map((g) => g.id).sort(), why).toEqual(d.grantIds);
  for (const g of cited) {
    expect(g.notBefore <= input.now && input.now < g.expiresAt, `${g.id} in force; ${why}`).toBe(true);
    expect(g.project === null || g.project === input.dataset.project, `${g.id} scoped to project ${input.dataset.project}; ${why}`).toBe(true);
    expect(g.datasetId === null || g.datasetId === input.dataset.id, `${g.id} scoped to dataset ${input.dataset.id}; ${why}`).toBe(true);
  }
  const only = (grants: readonly GrantFacts[]) => decide({ ...input, principal: { ...input.principal, grants: [...grants] } }, snapshot);
  const shape = (x: Decision) => ({ effect: x.effect, rules: x.rules, grantedColumns: x.grantedColumns, obligations: x.obligations, grantIds: x.grantIds, grantsExpireAt: x.grantsExpireAt });
  expect(shape(only(cited)), `cited grants suffice; ${why}`).toEqual(shape(d));
  if (cited.length) {
    const without = only(input.principal.grants.filter((g) => !d.grantIds.includes(g.id)));
    expect(without.effect === 'allow' && without.rules.join() === d.rules.join() && without.grantIds.length === 0, `cited grants are needed; ${why}`).toBe(false);
  }
}

describe('fast path agrees with plain casbin', () => {
  it('on random policies, role graphs, grants and requests', async () => {
    let compared = 0;
    let decided = 0;
    let allows = 0;
    let cited = 0;
    await fc.assert(
      fc.asyncProperty(worldArb, async (w) => {
        // Inheritance only from a higher to a lower role index: a DAG, like the catalog enforces.
        const inherits = new Map<string, Set<string>>(ROLES.map((r) => [r, new Set()]));
        for (const [a, b] of w.inherits) if (a > b) inherits.get(ROLES[a]!)!.add(ROLES[b]!);
        const snapshot = compilePolicy({
          documents: [{ name: 'random.yaml', text: yamlOf(w.rules) }],
          roles: ROLES.map((id) => ({ id, inherits: [...inherits.get(id)!] })),
        });
        const principals: PrincipalFacts[] = w.principals.map((p, i) => ({
          id: `u${i}`,
          kind: 'user',
          status: 'active',
          projects: p.projects,
          vendorId: null,
          baas: [],
          attributes: { level: p.level },
          roles: p.roles,
          grants: p.grants.map((g, j) => ({
            id: `g${i}-${j}`,
            role: g.role,
            project: g.project,
            datasetId: g.dataset,
            notBefore: NOW + g.window[0],
            expiresAt: NOW + g.window[1],
            breakGlass: g.breakGlass,
          })),
        }));
        const datasets: DatasetFacts[] = w.datasets.map((d, i) => ({
          id: DATASETS[i]!,
          audience: `urn:custos:dataset:${DATASETS[i]!}`,
          project: d.project,
          owner: 'u0',
          classification: d.classification,
          purposes: [...PURPOSES],
          columns: [{ name: 'a' }, { name: 'b', category: 'names' }],
        }));
        const ref = await buildCasbinReference(snapshot, principals, NOW);
        for (const q of w.requests) {
          const input: DecisionInput = {
            now: NOW,
            action: 'dataset:read',
            purpose: q.purpose,
            columns: ['a'],
            principal: principals[q.p % principals.length]!,
            dataset: datasets[q.d % datasets.length]!,
          };
          const fast = ruleEffect(input, snapshot);
          // casbin's g lines cannot scope a grant to one dataset: only principals without such grants are compared.
          if (!input.principal.grants.some((g) => g.datasetId !== null)) {
            const plain = casbinEffect(ref, input) ? 'allow' : 'deny';
            expect(fast, JSON.stringify({ input: { ...input, principal: input.principal.id }, rules: w.rules })).toBe(plain);
            compared++;
          }
          // The full decision adds requirements; it never allows what the rules deny
          // (for the grants it counts: break-glass ones for the emergency purpose only).
          // Denies count through every role and grant, so an allow is also an allow of the rules with every grant counted.
          const d = decide(input, snapshot);
          if (d.effect === 'allow') {
            expect(ruleEffect(input, snapshot, input.purpose === 'emergency' ? 'only' : 'none')).toBe('allow');
            expect(fast).toBe('allow');
            citedGrantsContributed(input, snapshot, d, JSON.stringify({ input, rules: w.rules }));
            if (d.grantIds.length) cited++;
          }
          decided++;
          if (fast === 'allow') allows++;
        }
      }),
      { numRuns: 300, seed: Number(process.env.CUSTOS_FC_SEED ?? 20261129) },
    );
    // The generator must exercise both outcomes, or agreement proves little.
    expect(compared).toBeGreaterThan(1000);
    expect(allows).toBeGreaterThan(decided * 0.05);
    expect(allows).toBeLessThan(decided * 0.95);
    // ...and allows that rely on grants, or the citation properties prove little.
    expect(cited).toBeGreaterThan(25);
  });
});
