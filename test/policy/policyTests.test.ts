/**
 * The policy test files shipped in policies/tests pass against the shipped
 * policy; a broken policy fails them with file, case, expected and actual;
 * a malformed test file is reported, not thrown. And diffs name rules by id.
 */
import { describe, expect, it } from 'vitest';
import { diffPolicies, unifiedDiff } from '../../src/policy/diff.ts';
import { readPolicyFolder, sourcesOf } from '../../src/policy/loadLivePolicy.ts';
import { runPolicyTests } from '../../src/policy/policyTests.ts';
import { defaultRoles } from '../engine/support.ts';

const shipped = await readPolicyFolder();

describe('policy test files', () => {
  it('the shipped tests pass against the shipped policy', () => {
    const r = runPolicyTests({ documents: sourcesOf(shipped.documents), roles: defaultRoles() }, shipped.tests);
    expect(r.failures).toEqual([]);
    expect(r).toMatchObject({ ok: true, files: 2 });
    expect(r.cases).toBeGreaterThanOrEqual(10);
  });

  it('reports each failing case with expected and actual, and unreadable files without throwing', () => {
    const documents = sourcesOf({ 'default.yaml': shipped.documents['default.yaml']!.replace('effect: deny', 'effect: allow') });
    const r = runPolicyTests({ documents, roles: defaultRoles() }, { ...shipped.tests, 'broken.yaml': 'description: x\ncases: []\n', 'bad-yaml.yaml': 'a: [' });
    expect(r.ok).toBe(false);
    expect(r.failures.filter((f) => f.case === null).map((f) => f.file)).toEqual(['bad-yaml.yaml', 'broken.yaml']);
    const admin = r.failures.find((f) => f.case === 'a system administrator never reads PHI')!;
    expect(admin).toMatchObject({ file: 'role-table.yaml', expected: { effect: 'deny' }, actual: { effect: 'allow' } });
  });
});

describe('policy diffs', () => {
  it('names added, removed and changed rules per document, with a unified diff', () => {
    const before = { documents: { 'a.yaml': 'rules:\n  - id: r1\n    effect: allow\n  - id: r2\n    effect: deny\n', 'gone.yaml': 'rules: []\n' } };
    const after = { documents: { 'a.yaml': 'rules:\n  - id: r1\n    effect: deny\n  - id: r3\n    effect: deny\n', 'new.yaml': 'rules:\n  - id: r4\n' } };
    const d = diffPolicies(before, after);
    expect(d.documents.map((f) => [f.name, f.status, f.rules])).toEqual([
      ['a.yaml', 'changed', { added: ['r3'], removed: ['r2'], changed: ['r1'] }],
      ['gone.yaml', 'removed', { added: [], removed: [], changed: [] }],
      ['new.yaml', 'added', { added: ['r4'], removed: [], changed: [] }],
    ]);
    expect(d.changed_rules).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(d.documents[0]!.unified).toBe(
      ['--- a/a.yaml', '+++ b/a.yaml', '@@ -1,5 +1,5 @@', ' rules:', '   - id: r1', '-    effect: allow', '-  - id: r2', '     effect: deny', '+  - id: r3', '+    effect: deny', ''].join('\n'),
    );
    expect(unifiedDiff('x', 'same\n', 'same\n')).toBe('');
    expect(unifiedDiff('x', undefined, 'a\n')).toBe('--- /dev/null\n+++ b/x\n@@ -0,0 +1,1 @@\n+a\n');
  });
});
