/**
 * Table-driven engine cases (in the manner of Cerbos' testdata/engine): each
 * YAML file under test/engine/cases holds a policy (the shipped default or an
 * inline one), principals, grants, BAAs and datasets by name, and cases with
 * the expected decision. The runner compiles the policy, builds the facts,
 * calls decide() and asserts exactly the listed expectations. For every case
 * it also checks that the fast path's rule effect (ruleEffect) agrees with
 * plain casbin on policies/model.conf.
 *
 * The format, the fact builders and the comparison live in
 * src/policy/policyTests.ts, shared with the policy test files the product
 * runs as the gate of every policy push.
 *
 * A case may carry `finding:`: it states a defect of src/ the case exposes;
 * the case expects the correct behaviour and fails until the defect is fixed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { decide, ruleEffect } from '../../src/engine/decide.ts';
import type { PolicySnapshot } from '../../src/engine/snapshot.ts';
import type { Decision, DecisionInput } from '../../src/engine/types.ts';
import { buildCasbinReference, casbinEffect, type CasbinReference } from '../../src/policy/casbin.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { buildDatasets, buildPrincipals, caseInput, checkDecision, compileTestPolicy, PolicyTestFile, type Expect, type PolicyUnderTest } from '../../src/policy/policyTests.ts';
import { defaultDocuments, defaultRoles } from './support.ts';

const CASES_DIR = fileURLToPath(new URL('./cases/', import.meta.url));

// ---------------------------------------------------------------- file format

const CaseFile = PolicyTestFile;
type CaseFile = PolicyTestFile;

/** The shipped policy: what `policy: default` means for the engine's own cases. */
const SHIPPED: PolicyUnderTest = { documents: defaultDocuments(), roles: defaultRoles() };

function compileFor(spec: CaseFile, file: string): PolicySnapshot {
  return compileTestPolicy(spec, file, SHIPPED);
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
        const input: DecisionInput = caseInput(spec, c, file, principals, datasets);
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

function assertDecision(d: Decision, e: Expect, snapshot: PolicySnapshot): void {
  expect(d.policyVersion).toBe(snapshot.version);
  // The same comparison the product's policy test gate makes (src/policy/policyTests.ts).
  expect(checkDecision(d, e), `decision: ${JSON.stringify(d)}`).toEqual([]);
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
