/**
 * Table-driven engine cases (in the manner of Cerbos' testdata/engine): each
 * YAML file under test/engine/cases holds a policy (the shipped default or an
 * inline one), principals, grants, BAAs and datasets by name, and cases with
 * the expected decision. The runner compiles the policy, builds the facts,
 * calls decide() and asserts exactly the listed expectations. For every case
 * it also checks that the fast path's rule effect (ruleEffect) agrees with
 * plain casbin on policies/model.conf.
 *
 * A case may carry `finding:`: it states a defect of src/ the case exposes;
 * the case expects the correct behaviour and fails until the defect is fixed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { decide, ruleEffect } from '../../src/engine/decide.ts';
import type { PolicySnapshot } from '../../src/engine/snapshot.ts';
import type { BaaFacts, DatasetFacts, Decision, DecisionInput, GrantFacts, PrincipalFacts } from '../../src/engine/types.ts';
import { buildCasbinReference, casbinEffect, type CasbinReference } from '../../src/policy/casbin.ts';
import { compilePolicy, type PolicySource, type RoleGraphEntry } from '../../src/policy/compile.ts';
import { defaultDocuments, defaultRoles } from './support.ts';

const CASES_DIR = fileURLToPath(new URL('./cases/', import.meta.url));

// ---------------------------------------------------------------- file format

const Instant = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 instant');
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const Names = z.array(z.string());

const PrincipalSpec = z.strictObject({
  kind: z.enum(['user', 'service']).default('user'),
  status: z.enum(['active', 'disabled']).default('active'),
  projects: Names.default([]),
  vendor: z.string().optional(),
  baas: Names.default([]).describe('names under `baas:`'),
  attributes: z.record(z.string(), z.unknown()).default({}),
  roles: z.array(z.strictObject({ role: z.string(), project: z.string().nullable().default(null) })).default([]),
  grants: Names.default([]).describe('names under `grants:`'),
  sponsor: z.string().optional().describe('a name under `principals:`'),
});

const GrantSpec = z.strictObject({
  role: z.string(),
  project: z.string().nullable().default(null),
  dataset: z.string().nullable().default(null),
  not_before: Instant,
  expires_at: Instant,
  break_glass: z.boolean().default(false),
});

const BaaSpec = z.strictObject({ effective_on: Day, expires_on: Day, purposes: Names, classifications: Names });

const DatasetSpec = z.strictObject({
  project: z.string(),
  owner: z.string().default('owner'),
  classification: z.enum(['deidentified', 'limited', 'phi']),
  purposes: Names,
  columns: z.array(z.union([z.string(), z.strictObject({ name: z.string(), category: z.string().optional() })])),
});

const ObligationList = z.array(z.record(z.string(), z.unknown()));

const Expect = z.strictObject({
  effect: z.enum(['allow', 'deny']),
  rules: Names.optional(),
  reasons: Names.optional().describe('exactly these, in order'),
  reasons_contain: Names.optional().describe('each is a substring of some reason'),
  granted_columns: Names.optional(),
  denied_columns: Names.optional(),
  obligations: ObligationList.optional(),
  grant_ids: Names.optional(),
  grants_expire_at: Instant.nullable().optional(),
  break_glass: z.boolean().optional(),
});

const CaseSpec = z.strictObject({
  name: z.string(),
  finding: z.string().optional(),
  now: Instant.optional(),
  input: z.strictObject({
    principal: z.string(),
    dataset: z.string(),
    action: z.string().default('dataset:read'),
    purpose: z.string().default('model-training'),
    columns: z.union([Names, z.literal('*')]),
    context: z.record(z.string(), z.unknown()).optional(),
  }),
  /** The expected rule-level effect, where it differs from the decision or is worth stating. */
  rule_effect: z.enum(['allow', 'deny']).optional(),
  expect: Expect,
});

const CaseFile = z.strictObject({
  description: z.string(),
  policy: z.enum(['default', 'inline']),
  now: Instant,
  /** Inline: the whole policy. Default: rules added to the shipped ones. */
  rules: z.array(z.unknown()).optional(),
  roles: z.array(z.strictObject({ id: z.string(), inherits: Names.default([]) })).optional(),
  grants: z.record(z.string(), GrantSpec).default({}),
  baas: z.record(z.string(), BaaSpec).default({}),
  principals: z.record(z.string(), PrincipalSpec),
  datasets: z.record(z.string(), DatasetSpec),
  cases: z.array(CaseSpec).min(1),
});
type CaseFile = z.infer<typeof CaseFile>;

// ---------------------------------------------------------------- building facts

function lookup<T>(table: Record<string, T>, name: string, what: string, file: string): T {
  const v = Object.hasOwn(table, name) ? table[name] : undefined;
  if (v === undefined) throw new Error(`${file}: unknown ${what} ${name}`);
  return v;
}

function buildPrincipals(spec: CaseFile, file: string): Map<string, PrincipalFacts> {
  const grants = (names: string[]): GrantFacts[] =>
    names.map((n) => {
      const g = lookup(spec.grants, n, 'grant', file);
      return { id: n, role: g.role, project: g.project, datasetId: g.dataset, notBefore: Date.parse(g.not_before), expiresAt: Date.parse(g.expires_at), breakGlass: g.break_glass };
    });
  const baas = (names: string[]): BaaFacts[] =>
    names.map((n) => {
      const b = lookup(spec.baas, n, 'BAA', file);
      return { id: n, effectiveOn: b.effective_on, expiresOn: b.expires_on, purposes: b.purposes, classifications: b.classifications };
    });
  const out = new Map<string, PrincipalFacts>();
  const build = (id: string, path: string[]): PrincipalFacts => {
    const done = out.get(id);
    if (done) return done;
    if (path.includes(id)) throw new Error(`${file}: sponsor cycle ${[...path, id].join(' → ')}`);
    const p = lookup(spec.principals, id, 'principal', file);
    const facts: PrincipalFacts = {
      id,
      kind: p.kind,
      status: p.status,
      projects: p.projects,
      vendorId: p.vendor ?? null,
      baas: baas(p.baas),
      attributes: p.attributes,
      roles: p.roles,
      grants: grants(p.grants),
      sponsor: p.sponsor === undefined ? undefined : build(p.sponsor, [...path, id]),
    };
    out.set(id, facts);
    return facts;
  };
  for (const id of Object.keys(spec.principals)) build(id, []);
  return out;
}

function buildDatasets(spec: CaseFile): Map<string, DatasetFacts> {
  return new Map(
    Object.entries(spec.datasets).map(([id, d]) => [
      id,
      {
        id,
        project: d.project,
        owner: d.owner,
        classification: d.classification,
        purposes: d.purposes,
        columns: d.columns.map((c) => (typeof c === 'string' ? { name: c } : c.category ? { name: c.name, category: c.category } : { name: c.name })),
        audience: `urn:custos:dataset:${id}`,
      },
    ]),
  );
}

function compileFor(spec: CaseFile, file: string): PolicySnapshot {
  const documents: PolicySource[] = spec.policy === 'default' ? defaultDocuments() : [];
  if (spec.rules) documents.push({ name: `${file}#rules`, text: stringify({ rules: spec.rules }) });
  const roles: RoleGraphEntry[] = [...(spec.policy === 'default' ? defaultRoles() : []), ...(spec.roles ?? [])];
  return compilePolicy({ documents, roles });
}

// ---------------------------------------------------------------- coverage bookkeeping

/** Every reason decide.ts can produce; each must be seen in some case. */
const REASON_TEMPLATES: [string, RegExp][] = [
  ['principal disabled', /^principal \S+ is disabled$/],
  ['purpose not permitted by dataset', /^purpose \S+ is not permitted for dataset \S+$/],
  ['no active BAA', /^vendor \S+ has no active BAA$/],
  ['purpose not in BAA', /^purpose \S+ is not in the BAA of vendor \S+$/],
  ['classification not in BAA', /^classification \S+ is not in the BAA of vendor \S+$/],
  ['"*" refused', /^columns "\*" are refused on (phi|limited) dataset \S+: list the columns needed$/],
  ['no columns', /^no columns requested: list the columns needed$/],
  ['unknown columns', /^unknown column\(s\): .+$/],
  ['denied by rule', /^denied by rule \S+$/],
  ['no rule allows', /^no rule allows \S+ on \S+ dataset \S+ for purpose \S+ with role\(s\) .+$/],
  ['emergency without break-glass', /^purpose emergency needs an active break-glass grant covering dataset \S+$/],
  ['no role applies', /^no role \(standing or active grant\) applies to dataset \S+ in project \S+$/],
  ['condition not met', /^condition of rule \S+ not met$/],
  ['grants expired', /^grant\(s\) .+ expired$/],
  ['grants not yet active', /^grant\(s\) .+ not yet active$/],
  ['columns not granted', /^column\(s\) .+ not granted \(granted: .+\)$/],
  ['service without sponsor', /^service \S+ has no sponsor$/],
  ['sponsor disabled', /^sponsor \S+ is disabled$/],
  ['sponsor lacks access', /^sponsor lacks access: .+$/],
];
const seenReasons = new Set<string>();
const seenDefaultRules = new Set<string>();
let casesRun = 0;
let casesTotal = 0;

// ---------------------------------------------------------------- the cases

const files = readdirSync(CASES_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

it('finds case files', () => {
  expect(files.length).toBeGreaterThan(0);
});

for (const file of files) {
  const spec = CaseFile.parse(parse(readFileSync(CASES_DIR + file, 'utf8')));
  describe(file, () => {
    const snapshot = compileFor(spec, file);
    const principals = buildPrincipals(spec, file);
    const datasets = buildDatasets(spec);
    // casbin knows grants only as they stand at one time: one reference per distinct "now".
    const references = new Map<number, Promise<CasbinReference>>();
    const referenceAt = (now: number) => {
      let ref = references.get(now);
      if (!ref) references.set(now, (ref = buildCasbinReference(snapshot, [...principals.values()], now)));
      return ref;
    };

    casesTotal += spec.cases.length;
    for (const c of spec.cases) {
      it(c.finding ? `${c.name} [FINDING]` : c.name, async () => {
        const input: DecisionInput = {
          now: Date.parse(c.now ?? spec.now),
          action: c.input.action,
          purpose: c.input.purpose,
          columns: c.input.columns,
          principal: lookup(Object.fromEntries(principals), c.input.principal, 'principal', file),
          dataset: lookup(Object.fromEntries(datasets), c.input.dataset, 'dataset', file),
          context: c.input.context,
        };
        const d = decide(input, snapshot);
        casesRun++;
        d.reasons.forEach((r) => seenReasons.add(r));
        if (spec.policy === 'default') d.rules.forEach((r) => seenDefaultRules.add(r));
        assertDecision(d, c.expect, snapshot);

        const fast = ruleEffect(input, snapshot);
        if (c.rule_effect) expect(fast, 'rule_effect').toBe(c.rule_effect);
        // A rule-level allow is necessary for an allow: decide() may only be stricter.
        if (d.effect === 'allow') expect(fast, 'an allow needs a rule-level allow').toBe('allow');
        // casbin's g lines cannot scope a grant to one dataset: for a principal holding
        // such a grant the comparison is meaningless, so it is skipped (and only then).
        if (input.principal.grants.some((g) => g.datasetId !== null)) return;
        const ref = await referenceAt(input.now);
        expect(casbinEffect(ref, input) ? 'allow' : 'deny', 'casbin agrees with ruleEffect').toBe(fast);
      });
    }
  });
}

function assertDecision(d: Decision, e: z.infer<typeof Expect>, snapshot: PolicySnapshot): void {
  const why = `decision: ${JSON.stringify(d)}`;
  expect(d.effect, why).toBe(e.effect);
  expect(d.policyVersion).toBe(snapshot.version);
  if (e.effect === 'allow') expect(d.reasons, why).toEqual([]);
  else expect(d.reasons.length, `a deny says why: ${why}`).toBeGreaterThan(0);
  if (e.rules) expect(d.rules, why).toEqual(e.rules);
  if (e.reasons) expect(d.reasons).toEqual(e.reasons);
  for (const r of e.reasons_contain ?? []) expect(d.reasons.some((x) => x.includes(r)), `a reason containing "${r}" in ${JSON.stringify(d.reasons)}`).toBe(true);
  if (e.granted_columns) expect(d.grantedColumns, why).toEqual(e.granted_columns);
  if (e.denied_columns) expect(d.deniedColumns, why).toEqual(e.denied_columns);
  if (e.obligations) expect(d.obligations, why).toEqual(e.obligations);
  if (e.grant_ids) expect(d.grantIds, why).toEqual(e.grant_ids);
  if (e.grants_expire_at !== undefined) expect(d.grantsExpireAt, why).toBe(e.grants_expire_at === null ? null : Date.parse(e.grants_expire_at));
  if (e.break_glass !== undefined) expect(d.breakGlass, why).toBe(e.break_glass);
}

describe('coverage of the case files', () => {
  it('every reason decide() can give is produced by some case', (ctx) => {
    if (casesRun < casesTotal) ctx.skip(); // a filtered run (-t) proves nothing about coverage
    const missing = REASON_TEMPLATES.filter(([, re]) => ![...seenReasons].some((r) => re.test(r))).map(([n]) => n);
    expect(missing).toEqual([]);
    const unknown = [...seenReasons].filter((r) => !REASON_TEMPLATES.some(([, re]) => re.test(r)));
    expect(unknown, 'reasons no template describes (add them above)').toEqual([]);
  });

  it('every rule of the default policy decides some case', (ctx) => {
    if (casesRun < casesTotal) ctx.skip();
    const ids = compilePolicy({ documents: defaultDocuments(), roles: defaultRoles() }).rules.map((r) => r.id);
    expect(ids.filter((id) => !seenDefaultRules.has(id))).toEqual([]);
  });
});
