/**
 * casbin stays the engine of record: random policies, role graphs, role
 * assignments, grants and requests go through the fast path (ruleEffect) and
 * through plain casbin enforcement of policies/model.conf, which must agree
 * on every request. decide() may only be stricter than the rule effect, and
 * an allow cites exactly the grants it relied on.
 *
 * Conditions include ones that pin principal.id or resource.id (== and in,
 * alone or in && chains, in any order, ids that exist and ids that do not),
 * which the snapshot indexes by those ids, and decoys that must not be
 * indexed (||, !, a ternary, a comparison of a comparison). casbin walks
 * every rule, so it is an unindexed reference; and decide() on the indexed
 * snapshot must equal decide() on the same rules unindexed. Some worlds run
 * under a tight condition budget with a principal in a thousand projects, so
 * that conditions refuse to run and pinned denies fail closed for everyone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, ruleEffect } from '../../src/engine/decide.ts';
import type { PolicySnapshot, RuleBucket } from '../../src/engine/snapshot.ts';
import type { DatasetFacts, Decision, DecisionInput, GrantFacts, PrincipalFacts } from '../../src/engine/types.ts';
import { buildCasbinReference, casbinEffect } from '../../src/policy/casbin.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { analyseCondition } from '../../src/policy/condition.ts';
import type { ConditionPins } from '../../src/policy/conditionIndex.ts';

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
/** Ids a pin may name: the requests' own, and one no request has. */
const PRINCIPAL_IDS = ['u0', 'u1', 'u2', 'u9'];
const DATASET_IDS = [...DATASETS, 'd9'];
/** The budget of the tight worlds: every condition here compiles under it (the costliest, pins and the membership check, about 410), and a thousand projects are over it. */
const TIGHT = { maxCost: 1000, maxElements: 1_000_000 };
/** Projects a crowded principal is also a member of: enough for `resource.project in principal.projects` to cost over TIGHT. */
const CROWD = Array.from({ length: 1000 }, (_, i) => `x${i}`);

const quoted = (id: string) => `"${id}"`;
/** `field == "id"`, `"id" == field` or `field in ["id", …]` (possibly empty). */
const pinArb = (field: string, ids: readonly string[]) =>
  fc.oneof(
    fc.constantFrom(...ids).map((id) => `${field} == ${quoted(id)}`),
    fc.constantFrom(...ids).map((id) => `${quoted(id)} == ${field}`),
    fc.subarray([...ids], { maxLength: 3 }).map((xs) => `${field} in [${xs.map(quoted).join(', ')}]`),
  );
const anyPinArb = fc.oneof(pinArb('principal.id', PRINCIPAL_IDS), pinArb('resource.id', DATASET_IDS));
/** Beside a pin, the membership check most often: over projects, it is the one that refuses to run in a tight world. */
const besidePinArb = fc.oneof({ weight: 3, arbitrary: fc.constant(['resource.project in principal.projects']) }, { weight: 5, arbitrary: fc.subarray(CONDITIONS, { maxLength: 1 }) });
/** One or two pins and at most one other condition, joined by &&, in any order: indexed. */
const pinnedArb = fc
  .tuple(fc.array(anyPinArb, { minLength: 1, maxLength: 2 }), besidePinArb)
  .chain(([pins, rest]) => {
    const parts = [...pins, ...rest.map((c) => `(${c})`)];
    return fc.shuffledSubarray(parts, { minLength: parts.length, maxLength: parts.length });
  })
  .map((parts) => parts.join(' && '));
/** A pin under ||, !, ?: or ==: never indexed (each may hold for other ids). */
const decoyArb = fc
  .tuple(anyPinArb, fc.constantFrom(...CONDITIONS), fc.nat(5))
  .map(([pin, c, form]) => [`${pin} || (${c})`, `(${c}) || ${pin}`, `!(${pin})`, `!(${pin}) && (${c})`, `(${pin}) == (${c})`, `${pin} ? false : (${c})`][form]!);
const whenArb = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...CONDITIONS) }, { weight: 3, arbitrary: pinnedArb }, { weight: 1, arbitrary: decoyArb });

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
  when: fc.option(whenArb, { nil: undefined, freq: 3 }),
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
  // A member of a thousand other projects too (only matters in a tight world: conditions over projects refuse to run).
  crowded: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  // A service sponsored by another principal of the world (decided as the sponsor too, under the sponsor's id).
  sponsor: fc.option(fc.nat(), { nil: undefined, freq: 4 }),
});

const worldArb = fc.record({
  inherits: fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 })), { maxLength: 5 }),
  rules: fc.array(ruleArb, { minLength: 1, maxLength: 12 }),
  principals: fc.array(principalArb, { minLength: 1, maxLength: 3 }),
  datasets: fc.array(fc.record({ project: fc.constantFrom(...PROJECTS), classification: fc.constantFrom(...CLASSES) }), { minLength: 4, maxLength: 4 }),
  requests: fc.array(fc.record({ p: fc.nat(), d: fc.nat(), purpose: fc.constantFrom(...PURPOSES) }), { minLength: 1, maxLength: 8 }),
  tight: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
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

/** The same snapshot with every rule of each bucket in `rest`: what decide() looked at before rules were indexed. */
function unindexed(s: PolicySnapshot): PolicySnapshot {
  const flat = (action: string, role: string): RuleBucket => ({ byPrincipal: new Map(), byDataset: new Map(), rest: s.rules.filter((r) => r.actions.includes(action) && r.roles.includes(role)), pinnedDenies: [] });
  return { ...s, index: new Map([...s.index].map(([action, byRole]) => [action, new Map([...byRole.keys()].map((role) => [role, flat(action, role)]))])) };
}

/** What a rule's condition pins (null: no condition, or it pins nothing). */
function pinsOf(s: PolicySnapshot, ruleId: string): ConditionPins | null {
  const text = s.rules.find((r) => r.id === ruleId)?.conditionText;
  const pins = text ? analyseCondition(text).pins : null;
  return pins?.principals || pins?.datasets ? pins : null;
}

/** Whether a rule's condition pins the request's principal or dataset to other ids (the index files it elsewhere). */
function pinnedAway(s: PolicySnapshot, ruleId: string, input: DecisionInput): boolean {
  const pins = pinsOf(s, ruleId);
  if (!pins) return false;
  return (pins.principals !== null && !pins.principals.has(input.principal.id)) || (pins.datasets !== null && !pins.datasets.has(input.dataset.id));
}

/**
 * A decision without the reasons naming unmet conditions (the index never
 * evaluates those of rules pinned to other ids), the others in sorted order
 * (denies are named in the order the index meets them).
 */
const sansConditions = (d: Decision) => ({ ...d, reasons: d.reasons.filter((r) => !/(^|: )condition of rule \S+ not met$/.test(r)).sort() });

describe('fast path agrees with plain casbin', () => {
  it('on random policies, role graphs, grants and requests', async () => {
    let compared = 0;
    let decided = 0;
    let allows = 0;
    let cited = 0;
    let pinnedDecisive = 0;
    let refusedAway = 0;
    await fc.assert(
      fc.asyncProperty(worldArb, async (w) => {
        // Inheritance only from a higher to a lower role index: a DAG, like the catalog enforces.
        const inherits = new Map<string, Set<string>>(ROLES.map((r) => [r, new Set()]));
        for (const [a, b] of w.inherits) if (a > b) inherits.get(ROLES[a]!)!.add(ROLES[b]!);
        const snapshot = compilePolicy({
          documents: [{ name: 'random.yaml', text: yamlOf(w.rules) }],
          roles: ROLES.map((id) => ({ id, inherits: [...inherits.get(id)!] })),
          conditionLimits: w.tight ? TIGHT : undefined,
        });
        const flat = unindexed(snapshot);
        const users: PrincipalFacts[] = w.principals.map((p, i) => ({
          id: `u${i}`,
          kind: 'user',
          status: 'active',
          projects: p.crowded ? [...p.projects, ...CROWD] : p.projects,
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
        // Services keep their own id, roles and grants, and are decided as their sponsor too.
        const principals = users.map((u, i): PrincipalFacts => {
          const j = w.principals[i]!.sponsor;
          return j === undefined ? u : { ...u, kind: 'service', sponsor: users[j % users.length] };
        });
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
          const why = () => JSON.stringify({ input: { ...input, principal: input.principal.id, sponsor: input.principal.sponsor?.id }, tight: w.tight, rules: w.rules });
          // The index only filters: the same decision as with every rule looked at.
          expect(sansConditions(d), why()).toEqual(sansConditions(decide(input, flat)));
          if (d.effect === 'allow') {
            expect(ruleEffect(input, snapshot, input.purpose === 'emergency' ? 'only' : 'none')).toBe('allow');
            expect(fast).toBe('allow');
            // A sponsor's grants are cited too: the citation properties are about the principal's own.
            if (!input.principal.sponsor) citedGrantsContributed(input, snapshot, d, why());
            if (d.grantIds.length) cited++;
          }
          if (d.rules.some((id) => pinsOf(snapshot, id))) pinnedDecisive++;
          // A deny pinned to someone else that applied all the same: its condition refused to run (fail closed).
          // (A service's deny may be its sponsor's, pinned to the sponsor: users only.)
          if (!input.principal.sponsor && d.effect === 'deny' && d.rules.some((id) => pinnedAway(snapshot, id, input))) refusedAway++;
          decided++;
          if (fast === 'allow') allows++;
        }
      }),
      { numRuns: 600, seed: Number(process.env.CUSTOS_FC_SEED ?? 20261129) },
    );
    // The generator must exercise both outcomes, or agreement proves little.
    expect(compared).toBeGreaterThan(2000);
    expect(allows).toBeGreaterThan(decided * 0.05);
    expect(allows).toBeLessThan(decided * 0.95);
    // ...and allows that rely on grants, or the citation properties prove little.
    expect(cited).toBeGreaterThan(25);
    // ...and decisions made by rules with pinning conditions, and pinned denies failing closed for others.
    expect(pinnedDecisive).toBeGreaterThan(50);
    expect(refusedAway).toBeGreaterThan(5);
  });
});
