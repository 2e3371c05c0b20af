/**
 * The policy editor places each validation issue on the YAML it names
 * (src/console/pages/admin/issuePositions.ts). The issues here come from the
 * server's own compiler (compilePolicy), so a change in how the server names
 * a rule or a field breaks this test, not just the page.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diagnosticsFor, failureDiagnostics, issueRange, lineOf } from '../../src/console/pages/admin/issuePositions.ts';
import { compilePolicy, PolicyInvalidError, type PolicyIssue } from '../../src/policy/compile.ts';
import { defaultRoles } from '../engine/support.ts';

const SHIPPED = readFileSync(new URL('../../policies/rules/default.yaml', import.meta.url), 'utf8');

/** The issues the server reports for a document. */
function issuesOf(text: string, name = 'default.yaml'): PolicyIssue[] {
  try {
    compilePolicy({ documents: [{ name, text }], roles: defaultRoles() });
  } catch (err) {
    if (err instanceof PolicyInvalidError) return err.issues;
    throw err;
  }
  return [];
}

/** The text an issue's range covers. */
const marked = (text: string, issue: PolicyIssue) => {
  const r = issueRange(text, issue);
  return text.slice(r.from, r.to);
};

describe('policy issues placed in the YAML', () => {
  it('marks the bad value of a rule field, named by rule id', () => {
    const text = SHIPPED.replace('    effect: deny\n    roles: [system-administrator]', '    effect: refuse\n    roles: [system-administrator]');
    const issues = issuesOf(text);
    expect(issues).toEqual([expect.objectContaining({ document: 'default.yaml', rule: 'sysadmin-never-reads-phi', field: 'effect' })]);
    expect(marked(text, issues[0]!)).toBe('refuse');
    expect(lineOf(text, issueRange(text, issues[0]!).from)).toBe(text.slice(0, text.indexOf('effect: refuse')).split('\n').length);
  });

  it('marks an element of a flow sequence (an unknown role), and a condition that does not compile', () => {
    const text = SHIPPED.replace('    roles: [security-reviewer]', '    roles: [security-reviewer, auditor]').replace('when: resource.project in principal.projects', 'when: resource.project in principal.projectz');
    const issues = issuesOf(text);
    const role = issues.find((i) => i.field === 'roles.1')!;
    expect(role).toMatchObject({ rule: 'reviewer-reads-no-data', message: expect.stringContaining('auditor') });
    expect(marked(text, role)).toBe('auditor');
    const when = issues.find((i) => i.field === 'when')!;
    expect(when.rule).toBe('scientist-own-project-phi');
    expect(marked(text, when)).toBe('resource.project in principal.projectz');
  });

  it('marks an unknown key, and the first line of a rule whose field is missing; a rule without an id by its index', () => {
    const unknown = SHIPPED.replace('    columns: all\n\n  - id: scientist-deidentified', '    columnz: all\n\n  - id: scientist-deidentified');
    const [u] = issuesOf(unknown);
    expect(u).toMatchObject({ rule: 'researcher-deidentified', message: expect.stringContaining('columnz') });
    expect(marked(unknown, u!)).toBe('columnz');

    const missing = SHIPPED.replace('    effect: deny\n    roles: [security-reviewer]\n', '    roles: [security-reviewer]\n');
    const [m] = issuesOf(missing);
    expect(m).toMatchObject({ rule: 'reviewer-reads-no-data', field: 'effect' });
    expect(marked(missing, m!)).toBe('id: reviewer-reads-no-data');

    const noId = SHIPPED.replace('  - id: reviewer-reads-no-data\n    description:', '  - description:');
    const n = issuesOf(noId).find((i) => i.rule?.startsWith('rules['))!;
    expect(n.rule).toBe('rules[4]');
    expect(marked(noId, n)).toMatch(/^description: Security reviewers/);
  });

  it('marks a field outside the rules (access limits), and a YAML syntax error where the parser found it', () => {
    const access = SHIPPED.replace('    - role: ai-researcher\n', '    - role: ai-reseacher\n');
    const a = issuesOf(access).find((i) => i.field === 'access.requests.1.role')!;
    expect(a).toBeDefined();
    expect(marked(access, a)).toBe('ai-reseacher');

    const broken = SHIPPED.replace('    actions: [dataset:read]\n    resource: { classification: [deidentified] }\n    purposes: [research', '    actions: [dataset:read\n    resource: { classification: [deidentified] }\n    purposes: [research');
    const [y] = issuesOf(broken);
    expect(y!.message).toMatch(/^YAML: /);
    const line = lineOf(broken, issueRange(broken, y!).from);
    expect(line).toBeGreaterThanOrEqual(8);
    expect(line).toBeLessThanOrEqual(12);
  });

  it('gives CodeMirror one diagnostic per issue of the document shown, and marks failing test cases by name', () => {
    const text = SHIPPED.replace('    effect: deny\n    roles: [system-administrator]', '    effect: refuse\n    roles: [system-administrator]');
    const issues = [...issuesOf(text), { document: 'other.yaml', message: 'elsewhere' }];
    const d = diagnosticsFor(text, 'default.yaml', issues);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ severity: 'error', message: expect.stringMatching(/^sysadmin-never-reads-phi › effect: /) });
    expect(text.slice(d[0]!.from, d[0]!.to)).toBe('refuse');

    const tests = readFileSync(new URL('../../policies/tests/role-table.yaml', import.meta.url), 'utf8');
    const f = failureDiagnostics(tests, 'role-table.yaml', [
      { file: 'role-table.yaml', case: 'a system administrator never reads PHI', message: 'effect differs' },
      { file: 'break-glass.yaml', case: 'x', message: 'elsewhere' },
    ]);
    expect(f).toHaveLength(1);
    expect(tests.slice(f[0]!.from, f[0]!.to)).toBe('a system administrator never reads PHI');
  });
});
