/**
 * Policy test files: YAML beside the rule documents (policies/tests/*.yaml),
 * in the engine-case format (in the manner of Cerbos' testdata/engine). A
 * file names principals, grants, BAAs and datasets, and lists cases with the
 * decision each must get. `runPolicyTests` compiles the policy under test
 * (plus any rules a file adds), decides every case and reports each
 * mismatch. The product runs them as the gate of every policy push; the
 * engine's own cases (test/engine/cases) use the same format and runner.
 *
 * `policy: default` is the policy under test: the shipped rule documents in
 * the engine's cases, the candidate of a push in the product. `policy:
 * inline` ignores it and uses only the file's own `rules:` and `roles:`.
 */
import { isDeepStrictEqual } from 'node:util';
import { parseDocument, stringify } from 'yaml';
import { z } from 'zod';
import { decide } from '../engine/decide.ts';
import type { PolicySnapshot } from '../engine/snapshot.ts';
import type { BaaFacts, DatasetFacts, Decision, DecisionInput, GrantFacts, PrincipalFacts } from '../engine/types.ts';
import { compilePolicy, formatIssue, PolicyInvalidError, type PolicySource, type RoleGraphEntry } from './compile.ts';
import type { ConditionLimits } from './conditionCost.ts';
import { fileIssues, PolicyTestsTooLargeError, sizeIssues, type TestFileCapIssue, type TestFileCaps } from './testFileCaps.ts';

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
  columns: z
    .array(z.union([z.string(), z.strictObject({ name: z.string(), category: z.string().optional() })]))
    .refine((cs) => new Set(cs.map((c) => (typeof c === 'string' ? c : c.name))).size === cs.length, 'column names must be unique'),
});

const ObligationList = z.array(z.record(z.string(), z.unknown()));

/** What a case expects; only the listed fields are checked. */
export const Expect = z.strictObject({
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
export type Expect = z.infer<typeof Expect>;

/** One case: a request and the decision it must get. */
export const CaseSpec = z.strictObject({
  name: z.string(),
  /** A defect of the engine the case exposes (engine cases only). */
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
export type CaseSpec = z.infer<typeof CaseSpec>;

/** A test file. */
export const PolicyTestFile = z.strictObject({
  description: z.string(),
  policy: z.enum(['default', 'inline']).default('default'),
  now: Instant,
  /** Inline: the whole policy. Default: rules added to the policy under test. */
  rules: z.array(z.unknown()).optional(),
  roles: z.array(z.strictObject({ id: z.string(), inherits: Names.default([]) })).optional(),
  grants: z.record(z.string(), GrantSpec).default({}),
  baas: z.record(z.string(), BaaSpec).default({}),
  principals: z.record(z.string(), PrincipalSpec),
  datasets: z.record(z.string(), DatasetSpec),
  cases: z.array(CaseSpec).min(1),
});
export type PolicyTestFile = z.infer<typeof PolicyTestFile>;

/** A test file's facts or cases are inconsistent (an unknown name, a sponsor cycle). */
export class PolicyTestFileError extends Error {}

function lookup<T>(table: Record<string, T>, name: string, what: string, file: string): T {
  const v = Object.hasOwn(table, name) ? table[name] : undefined;
  if (v === undefined) throw new PolicyTestFileError(`${file}: unknown ${what} ${name}`);
  return v;
}

/** The principals of a file as engine facts, by name. */
export function buildPrincipals(spec: PolicyTestFile, file: string): Map<string, PrincipalFacts> {
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
    if (path.includes(id)) throw new PolicyTestFileError(`${file}: sponsor cycle ${[...path, id].join(' → ')}`);
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

/** The datasets of a file as engine facts, by name. */
export function buildDatasets(spec: PolicyTestFile): Map<string, DatasetFacts> {
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

/** The policy under test, as documents and a role graph, and the cost budget of its conditions. */
export interface PolicyUnderTest {
  documents: readonly PolicySource[];
  roles: readonly RoleGraphEntry[];
  conditionLimits?: ConditionLimits | undefined;
}

/** Compiles the policy a file runs against (throws PolicyInvalidError). */
export function compileTestPolicy(spec: PolicyTestFile, file: string, base: PolicyUnderTest): PolicySnapshot {
  const documents: PolicySource[] = spec.policy === 'default' ? [...base.documents] : [];
  if (spec.rules) documents.push({ name: `${file}#rules`, text: stringify({ rules: spec.rules }) });
  const roles: RoleGraphEntry[] = [...(spec.policy === 'default' ? base.roles : []), ...(spec.roles ?? [])];
  return compilePolicy({ documents, roles, conditionLimits: base.conditionLimits });
}

/** The decision input of a case. */
export function caseInput(spec: PolicyTestFile, c: CaseSpec, file: string, principals: Map<string, PrincipalFacts>, datasets: Map<string, DatasetFacts>): DecisionInput {
  return {
    now: Date.parse(c.now ?? spec.now),
    action: c.input.action,
    purpose: c.input.purpose,
    columns: c.input.columns,
    principal: lookup(Object.fromEntries(principals), c.input.principal, 'principal', file),
    dataset: lookup(Object.fromEntries(datasets), c.input.dataset, 'dataset', file),
    context: c.input.context,
  };
}

/** One field of a decision that differs from the expectation. */
export interface Mismatch {
  field: string;
  expected: unknown;
  actual: unknown;
}

/** Deep equality; object keys in any order (`{type, epsilon}` is `{epsilon, type}`). */
const same = (a: unknown, b: unknown) => isDeepStrictEqual(a, b);

/** Compares a decision with an expectation; empty when it meets it. */
export function checkDecision(d: Decision, e: Expect): Mismatch[] {
  const out: Mismatch[] = [];
  const eq = (field: string, expected: unknown, actual: unknown) => {
    if (expected !== undefined && !same(expected, actual)) out.push({ field, expected, actual });
  };
  eq('effect', e.effect, d.effect);
  if (d.effect === 'allow' && d.reasons.length) out.push({ field: 'reasons', expected: [], actual: d.reasons });
  if (d.effect === 'deny' && !d.reasons.length) out.push({ field: 'reasons', expected: 'a reason for the deny', actual: [] });
  eq('rules', e.rules, d.rules);
  eq('reasons', e.reasons, d.reasons);
  for (const r of e.reasons_contain ?? []) if (!d.reasons.some((x) => x.includes(r))) out.push({ field: 'reasons_contain', expected: r, actual: d.reasons });
  eq('granted_columns', e.granted_columns, d.grantedColumns);
  eq('denied_columns', e.denied_columns, d.deniedColumns);
  eq('obligations', e.obligations, d.obligations);
  eq('grant_ids', e.grant_ids, d.grantIds);
  if (e.grants_expire_at !== undefined) eq('grants_expire_at', e.grants_expire_at === null ? null : new Date(e.grants_expire_at).toISOString(), d.grantsExpireAt === null ? null : new Date(d.grantsExpireAt).toISOString());
  eq('break_glass', e.break_glass, d.breakGlass);
  return out;
}

/** The parts of a decision a failure report shows. */
export function decisionSummary(d: Decision): Record<string, unknown> {
  return { effect: d.effect, rules: d.rules, reasons: d.reasons, granted_columns: d.grantedColumns, denied_columns: d.deniedColumns, obligations: d.obligations, grant_ids: d.grantIds, break_glass: d.breakGlass };
}

/** One failing case (or a file that could not be run: `case` null). */
export interface PolicyTestFailure {
  file: string;
  case: string | null;
  message: string;
  expected?: Expect;
  actual?: Record<string, unknown>;
  mismatches?: Mismatch[];
}

/** Result of {@link runPolicyTests}. */
export interface PolicyTestReport {
  ok: boolean;
  files: number;
  cases: number;
  passed: number;
  failures: PolicyTestFailure[];
}

/** Parses a test file's YAML text. */
export function parsePolicyTestFile(name: string, text: string): PolicyTestFile {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new PolicyTestFileError(`${name}: YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const parsed = PolicyTestFile.safeParse(doc.toJS({ maxAliasCount: 50 }));
  if (!parsed.success) throw new PolicyTestFileError(`${name}: ${parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * Runs every test file (name → YAML text) against the policy under test.
 * With `caps`, files over a cap are refused (PolicyTestsTooLargeError) before any case runs.
 */
export function runPolicyTests(policy: PolicyUnderTest, tests: Record<string, string>, caps?: TestFileCaps): PolicyTestReport {
  const report: PolicyTestReport = { ok: true, files: 0, cases: 0, passed: 0, failures: [] };
  if (caps) {
    const over = sizeIssues(tests, caps);
    if (over.length) throw new PolicyTestsTooLargeError(over);
  }
  // Parse every file first: a file over a cap stops the run before any case of any file costs anything.
  const parsed = new Map<string, PolicyTestFile | Error>();
  const over: TestFileCapIssue[] = [];
  for (const file of Object.keys(tests).sort()) {
    try {
      const spec = parsePolicyTestFile(file, tests[file]!);
      parsed.set(file, spec);
      if (caps) over.push(...fileIssues(file, spec, caps));
    } catch (err) {
      parsed.set(file, err as Error);
    }
  }
  if (over.length) throw new PolicyTestsTooLargeError(over);
  for (const [file, spec] of parsed) {
    report.files++;
    let snapshot: PolicySnapshot;
    let principals: Map<string, PrincipalFacts>;
    let datasets: Map<string, DatasetFacts>;
    try {
      if (spec instanceof Error) throw spec;
      snapshot = compileTestPolicy(spec, file, policy);
      principals = buildPrincipals(spec, file);
      datasets = buildDatasets(spec);
    } catch (err) {
      const message = err instanceof PolicyInvalidError ? `the policy does not compile: ${err.issues.slice(0, 5).map(formatIssue).join('; ')}` : (err as Error).message;
      report.failures.push({ file, case: null, message });
      continue;
    }
    for (const c of spec.cases) {
      report.cases++;
      let d: Decision;
      try {
        d = decide(caseInput(spec, c, file, principals, datasets), snapshot);
      } catch (err) {
        report.failures.push({ file, case: c.name, message: (err as Error).message, expected: c.expect });
        continue;
      }
      const mismatches = checkDecision(d, c.expect);
      if (mismatches.length) {
        report.failures.push({
          file,
          case: c.name,
          message: mismatches.map((m) => `${m.field}: expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`).join('; '),
          expected: c.expect,
          actual: decisionSummary(d),
          mismatches,
        });
      } else report.passed++;
    }
  }
  report.ok = report.failures.length === 0;
  return report;
}
