/**
 * Deny reasons become a bounded label: every reason the engine gives, in
 * every engine case (test/engine/cases), falls in a named class (none in
 * `other`), every class but `other` is reached by some real deny, and any
 * text at all maps into the fixed set.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { decide } from '../../src/engine/decide.ts';
import { REASON_CLASSES, reasonClass } from '../../src/metrics/reasonClass.ts';
import { buildDatasets, buildPrincipals, caseInput, compileTestPolicy, PolicyTestFile } from '../../src/policy/policyTests.ts';
import { defaultDocuments, defaultRoles } from '../engine/support.ts';

const CASES_DIR = fileURLToPath(new URL('../engine/cases/', import.meta.url));

/** Every reason the engine gives across its case files. */
function engineReasons(): string[] {
  const shipped = { documents: defaultDocuments(), roles: defaultRoles() };
  const out: string[] = [];
  for (const file of readdirSync(CASES_DIR).filter((f) => f.endsWith('.yaml'))) {
    const spec = PolicyTestFile.parse(parse(readFileSync(CASES_DIR + file, 'utf8')));
    const snapshot = compileTestPolicy(spec, file, shipped);
    const principals = buildPrincipals(spec, file);
    const datasets = buildDatasets(spec);
    for (const c of spec.cases) out.push(...decide(caseInput(spec, c, file, principals, datasets), snapshot).reasons);
  }
  return out;
}

describe('reason classes', () => {
  const reasons = engineReasons();

  it('classify every reason the engine gives in its cases, none as other', () => {
    expect(reasons.length).toBeGreaterThan(50);
    expect(reasons.filter((r) => reasonClass(r) === 'other')).toEqual([]);
  });

  it('are each reached by a real deny (other aside)', () => {
    const seen = new Set(reasons.map(reasonClass));
    expect(REASON_CLASSES.filter((c) => c !== 'other' && !seen.has(c))).toEqual([]);
  });

  it.each([
    ['principal 0190 is disabled', 'principal_disabled'],
    ['purpose research is not permitted for dataset onc-notes', 'purpose_not_permitted'],
    ['vendor acme has no active BAA', 'baa'],
    ['purpose research is not in the BAA of vendor acme', 'baa'],
    ['classification phi is not in the BAA of vendor acme', 'baa'],
    ['columns "*" are refused on phi dataset d: list the columns needed', 'column_request'],
    ['no columns requested: list the columns needed', 'column_request'],
    ['unknown column(s): a, b', 'column_request'],
    ['column(s) mrn not granted (granted: note_text)', 'columns_not_granted'],
    ['denied by rule no-vendors', 'denied_by_rule'],
    ['no rule allows dataset:read on phi dataset d for purpose research with role(s) member', 'no_allowing_rule'],
    ['no role (standing or active grant) applies to dataset d in project p', 'no_allowing_rule'],
    ['condition of rule own-project not met', 'condition_not_met'],
    ['grant(s) g1, g2 expired', 'grant_window'],
    ['grant(s) g1 not yet active', 'grant_window'],
    ['purpose emergency needs an active break-glass grant covering dataset d', 'break_glass_required'],
    ['service s has no sponsor', 'sponsor'],
    ['sponsor u is disabled', 'sponsor'],
    ['sponsor lacks access: column(s) mrn not granted (granted: none)', 'sponsor'],
  ])('%s → %s', (reason, cls) => {
    expect(reasonClass(reason)).toBe(cls);
  });

  it('map any text into the fixed set (the label stays bounded whatever the input)', () => {
    const texts = ['', 'x', 'purpose', 'principal is', 'grant(s) ', 'denied by', '\u0000\ud800', 'column(s) x granted', 'a'.repeat(10_000)];
    for (let i = 0; i < 500; i++) texts.push(Array.from({ length: 1 + (i % 40) }, (_, j) => String.fromCharCode(32 + ((i * 31 + j * 17) % 95))).join(''));
    for (const t of texts) expect(REASON_CLASSES).toContain(reasonClass(t));
    expect(texts.filter((t) => reasonClass(t) !== 'other')).toEqual([]);
  });
});
