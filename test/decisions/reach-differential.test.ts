/**
 * Reach agrees with decide() on random worlds: random rules (allows granting
 * all columns, non-identifiers, named columns or all but a category; denies;
 * conditions), role graphs, standing roles, grants (in force, expired, not
 * yet active, break-glass, scoped to one dataset), services bounded by a
 * sponsor, disabled principals, datasets with identifier columns and a subset
 * of purposes. For every row: decide() allows exactly its columns (each other
 * column added is refused), and the row's rules, grants and expiry are that
 * allow's. For every (principal, dataset, purpose) without a row: decide()
 * allows no column at all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { datasetReach, principalReach, reachOn } from '../../src/decisions/reach.ts';
import { decide } from '../../src/engine/decide.ts';
import type { DatasetFacts, DecisionInput, PrincipalFacts } from '../../src/engine/types.ts';
import { compilePolicy } from '../../src/policy/compile.ts';

const ROLES = ['r0', 'r1', 'r2', 'r3'];
const PROJECTS = ['p0', 'p1'];
const CLASSES = ['deidentified', 'limited', 'phi'] as const;
const PURPOSES = ['model-training', 'research', 'operations', 'emergency'] as const;
const DATASETS = ['d0', 'd1', 'd2'];
const COLUMNS = [{ name: 'a' }, { name: 'b' }, { name: 'mrn', category: 'medical-record-numbers' }, { name: 'zip', category: 'geographic' }];
const CONDITIONS = ['principal.attributes.level >= 2', 'resource.project in principal.projects', 'request.purpose == "research"', 'principal.id == "u1"'];
const NOW = Date.UTC(2026, 5, 1, 12);

const anyOrSome = <T>(xs: readonly T[]) => fc.oneof({ weight: 2, arbitrary: fc.constant([] as T[]) }, { weight: 1, arbitrary: fc.subarray([...xs], { minLength: 1 }) });
const columnsArb = fc.oneof(
  fc.constant<unknown>('all'),
  fc.constant<unknown>('non-identifiers'),
  fc.subarray(['a', 'b', 'mrn', 'zip'], { minLength: 1 }).map((include) => ({ include })),
  fc.constant<unknown>({ except_categories: ['geographic'] }),
);
const ruleArb = fc.record({
  effect: fc.oneof({ weight: 4, arbitrary: fc.constant('allow') }, { weight: 1, arbitrary: fc.constant('deny') }),
  roles: fc.subarray(ROLES, { minLength: 1, maxLength: 2 }),
  datasets: anyOrSome(DATASETS),
  classification: anyOrSome(CLASSES),
  purposes: anyOrSome(PURPOSES),
  when: fc.option(fc.constantFrom(...CONDITIONS), { nil: undefined, freq: 4 }),
  columns: columnsArb,
});
const grantArb = fc.record({
  role: fc.constantFrom(...ROLES),
  project: fc.option(fc.constantFrom(...PROJECTS), { nil: null }),
  dataset: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...DATASETS) }),
  window: fc.constantFrom<[number, number]>([-3600_000, 3600_000], [-60_000, 7200_000], [-7200_000, 0], [1, 3600_000]),
  breakGlass: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});
const principalArb = fc.record({
  roles: fc.array(fc.record({ role: fc.constantFrom(...ROLES), project: fc.option(fc.constantFrom(...PROJECTS), { nil: null }) }), { maxLength: 3 }),
  grants: fc.array(grantArb, { maxLength: 3 }),
  level: fc.integer({ min: 0, max: 3 }),
  projects: fc.subarray(PROJECTS),
  disabled: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  sponsor: fc.option(fc.nat(), { nil: undefined, freq: 3 }),
});
const worldArb = fc.record({
  inherits: fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 })), { maxLength: 3 }),
  rules: fc.array(ruleArb, { minLength: 1, maxLength: 10 }),
  principals: fc.array(principalArb, { minLength: 1, maxLength: 4 }),
  datasets: fc.array(fc.record({ project: fc.constantFrom(...PROJECTS), classification: fc.constantFrom(...CLASSES), purposes: fc.subarray([...PURPOSES], { minLength: 1 }) }), {
    minLength: 3,
    maxLength: 3,
  }),
});

function yamlOf(rules: any[]): string {
  return JSON.stringify({
    rules: rules.map((r, i) => ({
      id: `rule-${i}`,
      effect: r.effect,
      roles: r.roles,
      actions: ['dataset:read'],
      ...(r.datasets.length || r.classification.length
        ? { resource: { ...(r.datasets.length ? { datasets: r.datasets } : {}), ...(r.classification.length ? { classification: r.classification } : {}) } }
        : {}),
      ...(r.purposes.length ? { purposes: r.purposes } : {}),
      ...(r.when ? { when: r.when } : {}),
      ...(r.effect === 'allow' ? { columns: r.columns } : {}),
    })),
  });
}

describe('reach agrees with decide()', () => {
  it('on random worlds: every row is exactly what decide() allows, and nothing decide() allows is missing', () => {
    let rows = 0;
    let narrowed = 0;
    let granted = 0;
    let bounded = 0;
    let missingChecked = 0;
    fc.assert(
      fc.property(worldArb, (w) => {
        const inherits = new Map<string, Set<string>>(ROLES.map((r) => [r, new Set()]));
        for (const [a, b] of w.inherits) if (a > b) inherits.get(ROLES[a]!)!.add(ROLES[b]!);
        const snapshot = compilePolicy({ documents: [{ name: 'random.yaml', text: yamlOf(w.rules) }], roles: ROLES.map((id) => ({ id, inherits: [...inherits.get(id)!] })) });
        const users: PrincipalFacts[] = w.principals.map((p, i) => ({
          id: `u${i}`,
          kind: 'user',
          status: p.disabled ? 'disabled' : 'active',
          projects: p.projects,
          vendorId: null,
          baas: [],
          attributes: { level: p.level },
          roles: p.roles,
          grants: p.grants.map((g, j) => ({ id: `g${i}-${j}`, role: g.role, project: g.project, datasetId: g.dataset, notBefore: NOW + g.window[0], expiresAt: NOW + g.window[1], breakGlass: g.breakGlass })),
        }));
        const principals = users.map((u, i): PrincipalFacts => {
          const j = w.principals[i]!.sponsor;
          return j === undefined || j % users.length === i ? u : { ...u, kind: 'service', sponsor: users[j % users.length] };
        });
        const datasets: DatasetFacts[] = w.datasets.map((d, i) => ({
          id: DATASETS[i]!,
          audience: `urn:custos:dataset:${DATASETS[i]!}`,
          project: d.project,
          owner: 'u0',
          classification: d.classification,
          purposes: d.purposes,
          columns: COLUMNS,
        }));
        const ask = (p: PrincipalFacts, d: DatasetFacts, purpose: string, columns: string[]) => decide({ now: NOW, action: 'dataset:read', purpose, columns, principal: p, dataset: d } satisfies DecisionInput, snapshot);
        for (const p of principals) {
          const mine = principalReach(p, datasets, snapshot, NOW);
          if (p.status === 'disabled') expect(mine).toEqual([]);
          for (const d of datasets) {
            for (const purpose of PURPOSES) {
              const why = JSON.stringify({ p: p.id, sponsor: p.sponsor?.id, d: d.id, purpose, rules: w.rules, principals: w.principals });
              const row = mine.find((r) => r.datasetId === d.id && r.purpose === purpose);
              if (!row) {
                // Missing only if decide() allows no single column.
                for (const c of COLUMNS) expect(ask(p, d, purpose, [c.name]).effect, why).toBe('deny');
                missingChecked++;
                continue;
              }
              rows++;
              const allow = ask(p, d, purpose, row.columns);
              expect(allow.effect, why).toBe('allow');
              // Every other column is refused beside them: the row lists exactly the granted columns.
              for (const c of COLUMNS) if (!row.columns.includes(c.name)) expect(ask(p, d, purpose, [...row.columns, c.name]).effect, why).toBe('deny');
              expect(row.rules, why).toEqual(allow.rules);
              expect(row.grantIds, why).toEqual(allow.grantIds);
              expect(row.until, why).toBe(allow.grantsExpireAt);
              expect(row.basis, why).toBe(allow.breakGlass ? 'break-glass' : allow.grantIds.length ? 'grant' : 'standing');
              expect(row.roles.length, why).toBeGreaterThan(0);
              if (purpose === 'emergency') expect(row.basis, why).toBe('break-glass');
              if (row.columns.length < COLUMNS.length) narrowed++;
              if (row.grantIds.length) granted++;
              if (p.sponsor) {
                // Never more than the sponsor could read for the same request.
                expect(ask(p.sponsor, d, purpose, row.columns).effect, why).toBe('allow');
                bounded++;
              }
            }
            // The reverse view holds the same rows for this principal.
            expect(datasetReach(d, [p], snapshot, NOW)).toEqual(reachOn(p, d, snapshot, NOW));
            // Identifier rows: only the rows with an identifier column, listing only those.
            const ids = datasetReach(d, [p], snapshot, NOW, true);
            const full = reachOn(p, d, snapshot, NOW).filter((r) => r.columns.some((c) => c === 'mrn' || c === 'zip'));
            expect(ids.map((r) => [r.purpose, r.columns])).toEqual(full.map((r) => [r.purpose, r.columns.filter((c) => c === 'mrn' || c === 'zip')]));
          }
        }
      }),
      { numRuns: 400, seed: Number(process.env.CUSTOS_FC_SEED ?? 20261206) },
    );
    // The generator must exercise rows of every kind, or agreement proves little.
    expect(rows).toBeGreaterThan(300);
    expect(narrowed).toBeGreaterThan(100);
    expect(granted).toBeGreaterThan(30);
    expect(bounded).toBeGreaterThan(30);
    expect(missingChecked).toBeGreaterThan(300);
  });
});
