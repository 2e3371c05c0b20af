/**
 * The caps on policy test files, without HTTP: each cap passes at its value
 * and is reported one over it, with the file and case named and the figures
 * in the message; the error carries the code `policy_tests_too_large`, names
 * the first issue in its message and sends at most 50 issues to the client.
 * The runner refuses a whole run over a cap before any case of any file runs.
 */
import { describe, expect, it } from 'vitest';
import { CustosError } from '../../src/errors.ts';
import { PolicyTestFile, runPolicyTests } from '../../src/policy/policyTests.ts';
import { DEFAULT_TEST_FILE_CAPS, fileIssues, PolicyTestsTooLargeError, sizeIssues, type TestFileCapIssue, type TestFileCaps } from '../../src/policy/testFileCaps.ts';
import { defaultRoles } from '../engine/support.ts';

/** Caps large enough that only the one a test lowers applies. */
const caps = (over: Partial<TestFileCaps>): TestFileCaps => ({ maxFiles: 1000, maxCases: 1000, maxColumns: 1000, maxBytes: 1e9, ...over });
const names = (n: number, prefix = 'c') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A parsed test file with the given cases' columns and contexts, and one dataset of `datasetColumns` columns. */
function spec(o: { cases?: { columns: string[] | '*'; context?: Record<string, unknown> }[]; datasetColumns?: number } = {}): PolicyTestFile {
  return PolicyTestFile.parse({
    description: 'caps',
    now: '2026-06-01T12:00:00Z',
    principals: { sam: {} },
    datasets: { d: { project: 'p', classification: 'phi', purposes: ['model-training'], columns: names(o.datasetColumns ?? 1) } },
    cases: (o.cases ?? [{ columns: ['c0'] }]).map((c, i) => ({ name: `case ${i}`, input: { principal: 'sam', dataset: 'd', ...c }, expect: { effect: 'deny' } })),
  });
}

describe('the defaults', () => {
  it('mirror one decision request (2,000 columns) and bound the rest: 50 files, 500 cases, 1 MiB', () => {
    expect(DEFAULT_TEST_FILE_CAPS).toEqual({ maxFiles: 50, maxCases: 500, maxColumns: 2000, maxBytes: 1_048_576 });
  });
});

describe('sizeIssues: files and bytes, before any parsing', () => {
  const files = (n: number) => Object.fromEntries(names(n, 'f').map((f) => [`${f}.yaml`, 'x']));

  it('as many files as the cap pass; one more is one issue for all files', () => {
    expect(sizeIssues(files(3), caps({ maxFiles: 3 }))).toEqual([]);
    expect(sizeIssues(files(4), caps({ maxFiles: 3 }))).toEqual([{ file: '(all)', case: null, message: '4 test files; at most 3' }]);
    expect(sizeIssues({}, caps({ maxFiles: 0 }))).toEqual([]);
  });

  it('counts UTF-8 bytes over all files, not characters: at the cap passes, one byte over is refused', () => {
    // "é" is 2 bytes in UTF-8: 3 + 2 + 2 = 7 bytes in 5 characters.
    const tests = { 'a.yaml': 'abc', 'b.yaml': 'éé' };
    expect(sizeIssues(tests, caps({ maxBytes: 7 }))).toEqual([]);
    expect(sizeIssues(tests, caps({ maxBytes: 6 }))).toEqual([{ file: '(all)', case: null, message: '7 bytes of test files; at most 6' }]);
    expect(sizeIssues({ 'a.yaml': '' }, caps({ maxBytes: 0 }))).toEqual([]);
  });

  it('reports both caps at once, files first', () => {
    expect(sizeIssues(files(2), caps({ maxFiles: 1, maxBytes: 1 }))).toEqual([
      { file: '(all)', case: null, message: '2 test files; at most 1' },
      { file: '(all)', case: null, message: '2 bytes of test files; at most 1' },
    ]);
  });
});

describe('fileIssues: one parsed file', () => {
  it('as many cases as the cap pass; one more is an issue of the file', () => {
    const cases = (n: number) => Array.from({ length: n }, () => ({ columns: ['c0'] }));
    expect(fileIssues('t.yaml', spec({ cases: cases(3) }), caps({ maxCases: 3 }))).toEqual([]);
    expect(fileIssues('t.yaml', spec({ cases: cases(4) }), caps({ maxCases: 3 }))).toEqual([{ file: 't.yaml', case: null, message: '4 cases; at most 3 per file' }]);
  });

  it('a dataset of as many columns as the cap passes; one more is an issue naming the dataset', () => {
    expect(fileIssues('t.yaml', spec({ datasetColumns: 5 }), caps({ maxColumns: 5 }))).toEqual([]);
    expect(fileIssues('t.yaml', spec({ datasetColumns: 6 }), caps({ maxColumns: 5 }))).toEqual([{ file: 't.yaml', case: null, message: 'dataset d has 6 columns; at most 5' }]);
  });

  it('a case naming as many columns as the cap passes; one more is an issue of that case', () => {
    expect(fileIssues('t.yaml', spec({ cases: [{ columns: names(5) }] }), caps({ maxColumns: 5 }))).toEqual([]);
    expect(fileIssues('t.yaml', spec({ cases: [{ columns: ['c0'] }, { columns: names(6) }] }), caps({ maxColumns: 5 }))).toEqual([
      { file: 't.yaml', case: 'case 1', message: 'input.columns has 6 columns; at most 5 per case' },
    ]);
  });

  it('counts `*` (all columns) as one column, and a list by its length', () => {
    expect(fileIssues('t.yaml', spec({ cases: [{ columns: '*' }] }), caps({ maxColumns: 1 }))).toEqual([]);
    expect(fileIssues('t.yaml', spec({ cases: [{ columns: '*' }], datasetColumns: 0 }), caps({ maxColumns: 0 }))).toEqual([
      { file: 't.yaml', case: 'case 0', message: 'input.columns has 1 columns; at most 0 per case' },
    ]);
    expect(fileIssues('t.yaml', spec({ cases: [{ columns: ['a', 'b'] }] }), caps({ maxColumns: 1 }))).toEqual([
      { file: 't.yaml', case: 'case 0', message: 'input.columns has 2 columns; at most 1 per case' },
    ]);
  });

  it('a case may pass 50 context entries, as a decision request may; 51 is an issue; none at all is fine', () => {
    const context = (n: number) => Object.fromEntries(names(n, 'k').map((k) => [k, 1]));
    const big = caps({ maxColumns: 1e6 });
    expect(fileIssues('t.yaml', spec({ cases: [{ columns: ['c0'], context: context(50) }] }), big)).toEqual([]);
    expect(fileIssues('t.yaml', spec({ cases: [{ columns: ['c0'], context: context(51) }] }), big)).toEqual([
      { file: 't.yaml', case: 'case 0', message: 'input.context has 51 entries; at most 50 per case' },
    ]);
    expect(fileIssues('t.yaml', spec({ cases: [{ columns: ['c0'] }] }), big)).toEqual([]);
  });

  it('stops listing at 50 issues (each of these cases has two)', () => {
    const wide = { columns: names(2), context: Object.fromEntries(names(51, 'k').map((k) => [k, 1])) };
    const issues = fileIssues('t.yaml', spec({ cases: Array.from({ length: 40 }, () => wide) }), caps({ maxColumns: 1 }));
    // Two issues per case: after case 24 (the 25th) there are exactly 50, and the loop stops.
    expect(issues).toHaveLength(50);
    expect(issues.at(-1)).toEqual({ file: 't.yaml', case: 'case 24', message: 'input.context has 51 entries; at most 50 per case' });
    // 49 issues do not stop it: one case over the cap still adds its own.
    const fewer = fileIssues('t.yaml', spec({ cases: [...Array.from({ length: 24 }, () => wide), { columns: names(2) }, { columns: names(2) }] }), caps({ maxColumns: 1 }));
    expect(fewer.map((i) => i.case).slice(-3)).toEqual(['case 23', 'case 24', 'case 25']);
    expect(fewer).toHaveLength(50);
  });
});

describe('PolicyTestsTooLargeError', () => {
  const issue = (i: number, c: string | null = null): TestFileCapIssue => ({ file: `f${i}.yaml`, case: c, message: `m${i}` });

  it('is a CustosError with the code policy_tests_too_large and the issues', () => {
    const e = new PolicyTestsTooLargeError([issue(0, 'big case'), issue(1)]);
    expect(e).toBeInstanceOf(CustosError);
    expect(e.code).toBe('policy_tests_too_large');
    expect(e.name).toBe('PolicyTestsTooLargeError');
    expect(e.issues).toEqual([issue(0, 'big case'), issue(1)]);
  });

  it('names the count and the first issue, with its case when it has one', () => {
    expect(new PolicyTestsTooLargeError([issue(0, 'big case'), issue(1)]).message).toBe('The policy test files exceed 2 cap(s): f0.yaml › big case: m0');
    expect(new PolicyTestsTooLargeError([issue(3)]).message).toBe('The policy test files exceed 1 cap(s): f3.yaml: m3');
    expect(new PolicyTestsTooLargeError([]).message).toBe('The policy test files exceed 0 cap(s)');
  });

  it('sends at most the first 50 issues to the client, and all when fewer', () => {
    const many = Array.from({ length: 60 }, (_, i) => issue(i));
    const e = new PolicyTestsTooLargeError(many);
    expect(e.problemExtensions).toEqual({ issues: many.slice(0, 50) });
    expect(e.issues).toHaveLength(60);
    expect(new PolicyTestsTooLargeError([issue(1)]).problemExtensions).toEqual({ issues: [issue(1)] });
  });
});

describe('runPolicyTests with caps: refused as a whole before any case runs', () => {
  const policy = { documents: [], roles: defaultRoles() };
  const file = (columns: number) => `description: caps
now: 2026-06-01T12:00:00Z
principals: { sam: {} }
datasets:
  d: { project: p, classification: phi, purposes: [model-training], columns: [c0] }
cases:
  - name: wide
    input: { principal: sam, dataset: d, columns: [${names(columns).join(', ')}] }
    expect: { effect: allow }
`;

  it('a file over a cap throws with its file and case; at the cap the cases run', () => {
    const run = (tests: Record<string, string>) => () => runPolicyTests(policy, tests, caps({ maxColumns: 3 }));
    expect(run({ 'b.yaml': file(4), 'a.yaml': file(1) })).toThrow(new PolicyTestsTooLargeError([{ file: 'b.yaml', case: 'wide', message: 'input.columns has 4 columns; at most 3 per case' }]));
    // At the cap the case runs (and fails: nobody is allowed by an empty policy).
    expect(runPolicyTests(policy, { 'a.yaml': file(3) }, caps({ maxColumns: 3 }))).toMatchObject({ files: 1, cases: 1, passed: 0 });
  });

  it('too many files are refused before any file is parsed', () => {
    let err: unknown;
    try {
      runPolicyTests(policy, { 'a.yaml': file(1), 'b.yaml': 'not: [yaml' }, caps({ maxFiles: 1 }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyTestsTooLargeError);
    expect((err as PolicyTestsTooLargeError).issues).toEqual([{ file: '(all)', case: null, message: '2 test files; at most 1' }]);
  });
});
