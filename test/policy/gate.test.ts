/**
 * The gate of every policy push (checkPolicy / assertPolicyPasses) and the
 * policy test runner behind it: a candidate that does not compile is
 * reported with every issue, a candidate whose own test files fail is
 * refused with each failing case, expected and actual; a test file that
 * cannot be run is a failure of that file, never a crash of the gate.
 */
import { describe, expect, it } from 'vitest';
import { PolicyInvalidError } from '../../src/policy/compile.ts';
import { assertPolicyPasses, checkPolicy, PolicyTestsFailedError } from '../../src/policy/checkPolicy.ts';
import { readPolicyFolder } from '../../src/policy/loadLivePolicy.ts';
import { buildDatasets, buildPrincipals, checkDecision, parsePolicyTestFile, PolicyTestFileError, runPolicyTests } from '../../src/policy/policyTests.ts';
import { PolicyTestsTooLargeError, type TestFileCaps } from '../../src/policy/testFileCaps.ts';
import type { Decision } from '../../src/engine/types.ts';
import { defaultRoles } from '../engine/support.ts';

const ROLES = defaultRoles();

const RULES = `rules:
  - id: sci-read
    effect: allow
    roles: [data-scientist]
    actions: [dataset:read]
    obligations: [{ type: no-export }]
`;
/** A test file for RULES: one allow and one deny, both true of RULES. */
const TEST = `description: scientists read, others do not
policy: default
now: 2026-06-01T12:00:00Z
principals:
  sam: { roles: [{ role: data-scientist }] }
  ann: {}
datasets:
  d: { project: p, classification: deidentified, purposes: [model-training], columns: [a, b] }
cases:
  - name: sam reads
    input: { principal: sam, dataset: d, columns: [a] }
    expect: { effect: allow, rules: [sci-read], obligations: [{ type: no-export }] }
  - name: ann does not
    input: { principal: ann, dataset: d, columns: [a] }
    expect: { effect: deny, reasons_contain: [no role] }
`;

describe('checkPolicy', () => {
  it('compiles the candidate and runs its tests', () => {
    const r = checkPolicy({ documents: { 'p.yaml': RULES }, tests: { 't.yaml': TEST }, roles: ROLES });
    expect(r.issues).toEqual([]);
    expect(r.snapshot!.rules.map((x) => x.id)).toEqual(['sci-read']);
    expect(r.tests).toEqual({ ok: true, files: 1, cases: 2, passed: 2, failures: [] });
  });

  it('uses the version it is given, else the digest', () => {
    expect(checkPolicy({ documents: { 'p.yaml': RULES }, tests: {}, roles: ROLES, version: 'v7.abc' }).snapshot!.version).toBe('v7.abc');
    expect(checkPolicy({ documents: { 'p.yaml': RULES }, tests: {}, roles: ROLES }).snapshot!.version).toMatch(/^[0-9a-f]{16}$/);
    expect(checkPolicy({ documents: { 'p.yaml': RULES }, tests: {}, roles: ROLES, version: '' }).snapshot!.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('returns the issues of a candidate that does not compile, and runs no test', () => {
    const r = checkPolicy({ documents: { 'p.yaml': RULES.replace('data-scientist', 'no-such-role') }, tests: { 't.yaml': TEST }, roles: ROLES });
    expect(r).toEqual({ snapshot: null, issues: [{ document: 'p.yaml', rule: 'sci-read', field: 'roles.0', message: 'unknown role no-such-role' }], tests: null });
    expect(() => assertPolicyPasses({ documents: { 'p.yaml': RULES.replace('data-scientist', 'no-such-role') }, tests: {}, roles: ROLES })).toThrow(PolicyInvalidError);
  });

  it('passes on an error that is not about the policy', () => {
    expect(() => checkPolicy({ documents: { 'p.yaml': RULES }, tests: {}, roles: [{ id: 'x', inherits: null as unknown as string[] }] })).toThrow(TypeError);
  });

  it('compiles the documents in name order', () => {
    const a = `rules:\n  - { id: a1, effect: deny, roles: [approver], actions: [dataset:read] }\n`;
    const r = checkPolicy({ documents: { 'z.yaml': RULES, 'a.yaml': a }, tests: {}, roles: ROLES });
    expect(r.snapshot!.rules.map((x) => x.id)).toEqual(['a1', 'sci-read']);
  });

  it('refuses a candidate whose tests fail, naming each failing case', () => {
    const o = { documents: { 'p.yaml': RULES.replace('effect: allow', 'effect: allow\n    columns: { include: [b] }') }, tests: { 't.yaml': TEST }, roles: ROLES };
    let err: unknown;
    try {
      assertPolicyPasses(o);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyTestsFailedError);
    const e = err as PolicyTestsFailedError;
    expect(e.code).toBe('policy_tests_failed');
    expect(e.message).toBe('1 policy test(s) fail; the policy was not changed.');
    const { failures, tests } = e.problemExtensions;
    expect(tests).toEqual({ ok: false, files: 1, cases: 2, passed: 1 });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ file: 't.yaml', case: 'sam reads', expected: { effect: 'allow' }, actual: { effect: 'deny', granted_columns: ['b'], denied_columns: ['a'] } });
    expect(failures[0]!.message).toBe('effect: expected "allow", got "deny"; obligations: expected [{"type":"no-export"}], got []');
  });

  it('passes a candidate whose tests pass, returning its snapshot', () => {
    const s = assertPolicyPasses({ documents: { 'p.yaml': RULES }, tests: { 't.yaml': TEST }, roles: ROLES });
    expect(s.rules.map((x) => x.id)).toEqual(['sci-read']);
    expect(assertPolicyPasses({ documents: { 'p.yaml': RULES }, tests: {}, roles: ROLES }).rules).toHaveLength(1);
  });
});

describe('runPolicyTests', () => {
  const policy = { documents: [{ name: 'p.yaml', text: RULES }], roles: ROLES };

  it('reports a file that cannot be run, with why, and goes on with the others', () => {
    const r = runPolicyTests(policy, {
      'a-bad-yaml.yaml': 'a: [',
      'b-schema.yaml': 'description: x\nnow: 2026-06-01T00:00:00Z\nprincipals: {}\ndatasets: {}\ncases: []\n',
      'c-unknown.yaml': TEST.replace('principal: ann', 'principal: nobody'),
      'd-rules.yaml': TEST.replace('policy: default', 'policy: default\nrules: [{ id: sci-read, effect: deny, roles: [data-scientist], actions: [dataset:read] }]'),
      'e-ok.yaml': TEST,
    });
    expect(r).toMatchObject({ ok: false, files: 5, cases: 4, passed: 3 });
    expect(r.failures.map((f) => [f.file, f.case])).toEqual([
      ['a-bad-yaml.yaml', null],
      ['b-schema.yaml', null],
      ['c-unknown.yaml', 'ann does not'],
      ['d-rules.yaml', null],
    ]);
    expect(r.failures[0]!.message).toMatch(/^a-bad-yaml\.yaml: YAML: /);
    expect(r.failures[1]!.message).toBe('b-schema.yaml: cases: Too small: expected array to have >=1 items');
    expect(r.failures[2]!.message).toBe('c-unknown.yaml: unknown principal nobody');
    expect(r.failures[2]!.expected).toEqual({ effect: 'deny', reasons_contain: ['no role'] });
    expect(r.failures[3]!.message).toBe('the policy does not compile: d-rules.yaml#rules › sci-read › id: duplicate rule id (also in p.yaml)');
  });

  it('runs files in name order and counts every case', () => {
    const r = runPolicyTests(policy, { 'z.yaml': TEST.replace('effect: deny', 'effect: allow'), 'a.yaml': TEST.replace('expect: { effect: allow', 'expect: { effect: deny') });
    expect(r.failures.map((f) => [f.file, f.case])).toEqual([
      ['a.yaml', 'sam reads'],
      ['z.yaml', 'ann does not'],
    ]);
    expect(r).toMatchObject({ ok: false, files: 2, cases: 4, passed: 2 });
    expect(runPolicyTests(policy, {})).toEqual({ ok: true, files: 0, cases: 0, passed: 0, failures: [] });
  });

  it('with policy: inline, uses only the file\'s own rules and roles', () => {
    const inline = TEST.replace('policy: default', 'policy: inline\nroles: [{ id: reader }]\nrules: [{ id: own, effect: allow, roles: [reader], actions: [dataset:read] }]').replace('sam: { roles: [{ role: data-scientist }] }', 'sam: { roles: [{ role: reader }] }').replace('rules: [sci-read], obligations: [{ type: no-export }]', 'rules: [own]');
    expect(runPolicyTests(policy, { 'i.yaml': inline })).toMatchObject({ ok: true, cases: 2, passed: 2 });
  });

  it('the shipped tests pass against the shipped policy', async () => {
    const shipped = await readPolicyFolder();
    expect(Object.keys(shipped.tests).sort()).toEqual(['break-glass.yaml', 'role-table.yaml']);
    const r = checkPolicy({ ...shipped, roles: ROLES });
    expect(r.tests!.failures).toEqual([]);
    expect(r.tests!.ok).toBe(true);
  });
});

describe('parsePolicyTestFile and its facts', () => {
  it('refuses duplicate keys and names the first problems with their paths', () => {
    expect(() => parsePolicyTestFile('f', 'description: a\ndescription: b\n')).toThrow(/^f: YAML: Map keys must be unique/);
    expect(() => parsePolicyTestFile('f', '[]\n')).toThrow('f: (file): Invalid input: expected object, received array');
    const many = () => parsePolicyTestFile('f', 'x: 1\n');
    expect(many).toThrow(PolicyTestFileError);
    // The first five problems only (a sixth, the unknown key, is left out).
    expect(many).toThrow(
      'f: description: Invalid input: expected string, received undefined; now: Invalid input: expected string, received undefined; principals: Invalid input: expected record, received undefined; datasets: Invalid input: expected record, received undefined; cases: Invalid input: expected array, received undefined',
    );
  });

  it('fills defaults: an active user with no roles, grants or projects', () => {
    const spec = parsePolicyTestFile('f', TEST);
    const p = buildPrincipals(spec, 'f').get('ann')!;
    expect(p).toEqual({ id: 'ann', kind: 'user', status: 'active', projects: [], vendorId: null, baas: [], attributes: {}, roles: [], grants: [], sponsor: undefined });
    expect(spec.cases[0]!.input).toEqual({ principal: 'sam', dataset: 'd', action: 'dataset:read', purpose: 'model-training', columns: ['a'] });
  });

  it('refuses a sponsor cycle and unknown grants, BAAs and sponsors', () => {
    const withPrincipals = (p: string) => parsePolicyTestFile('f', TEST.replace('  ann: {}', p));
    expect(() => buildPrincipals(withPrincipals('  ann: { kind: service, sponsor: bob }\n  bob: { kind: service, sponsor: ann }'), 'f')).toThrow('f: sponsor cycle ann → bob → ann');
    expect(() => buildPrincipals(withPrincipals('  ann: { grants: [g] }'), 'f')).toThrow('f: unknown grant g');
    expect(() => buildPrincipals(withPrincipals('  ann: { baas: [b] }'), 'f')).toThrow('f: unknown BAA b');
    expect(() => buildPrincipals(withPrincipals('  ann: { kind: service, sponsor: zed }'), 'f')).toThrow('f: unknown principal zed');
    expect(() => buildPrincipals(withPrincipals('  ann: { kind: service, sponsor: toString }'), 'f')).toThrow('f: unknown principal toString');
  });
});

describe('checkDecision', () => {
  const allow: Decision = { effect: 'allow', rules: ['r'], reasons: [], grantedColumns: ['a'], deniedColumns: [], obligations: [{ type: 'x', n: 1 }], grantIds: ['g'], grantsExpireAt: Date.UTC(2026, 5, 1, 16), breakGlass: true, policyVersion: 'v' };

  it('checks only the fields listed, objects with keys in any order', () => {
    expect(checkDecision(allow, { effect: 'allow' })).toEqual([]);
    expect(checkDecision(allow, { effect: 'allow', rules: ['r'], granted_columns: ['a'], denied_columns: [], obligations: [{ n: 1, type: 'x' }], grant_ids: ['g'], grants_expire_at: '2026-06-01T16:00:00Z', break_glass: true })).toEqual([]);
  });

  it('names every field that differs, with expected and actual', () => {
    expect(checkDecision(allow, { effect: 'deny', rules: [], granted_columns: [], denied_columns: ['a'], obligations: [], grant_ids: [], grants_expire_at: null, break_glass: false, reasons: ['x'] })).toEqual([
      { field: 'effect', expected: 'deny', actual: 'allow' },
      { field: 'rules', expected: [], actual: ['r'] },
      { field: 'reasons', expected: ['x'], actual: [] },
      { field: 'granted_columns', expected: [], actual: ['a'] },
      { field: 'denied_columns', expected: ['a'], actual: [] },
      { field: 'obligations', expected: [], actual: [{ type: 'x', n: 1 }] },
      { field: 'grant_ids', expected: [], actual: ['g'] },
      { field: 'grants_expire_at', expected: null, actual: '2026-06-01T16:00:00.000Z' },
      { field: 'break_glass', expected: false, actual: true },
    ]);
    const noExpiry = { ...allow, grantsExpireAt: null };
    expect(checkDecision(noExpiry, { effect: 'allow', grants_expire_at: '2026-06-01T16:00:00Z' })).toEqual([{ field: 'grants_expire_at', expected: '2026-06-01T16:00:00.000Z', actual: null }]);
    expect(checkDecision(noExpiry, { effect: 'allow', grants_expire_at: null })).toEqual([]);
  });

  it('requires reasons for a deny and none for an allow, and finds each reasons_contain in some reason', () => {
    const deny: Decision = { ...allow, effect: 'deny', reasons: ['no role applies', 'grant g expired'] };
    expect(checkDecision(deny, { effect: 'deny', reasons_contain: ['role', 'expired'] })).toEqual([]);
    expect(checkDecision(deny, { effect: 'deny', reasons_contain: ['role', 'BAA'] })).toEqual([{ field: 'reasons_contain', expected: 'BAA', actual: deny.reasons }]);
    expect(checkDecision({ ...deny, reasons: [] }, { effect: 'deny' })).toEqual([{ field: 'reasons', expected: 'a reason for the deny', actual: [] }]);
    expect(checkDecision({ ...allow, reasons: ['odd'] }, { effect: 'allow' })).toEqual([{ field: 'reasons', expected: [], actual: ['odd'] }]);
  });
});

/** The error `f` throws (fails the test if it returns). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('nothing was thrown');
}

describe('caps on test files', () => {
  const caps = (over: Partial<TestFileCaps> = {}): TestFileCaps => ({ maxFiles: 50, maxCases: 500, maxColumns: 2000, maxBytes: 1_048_576, ...over });
  const policy = { documents: [{ name: 'p.yaml', text: RULES }], roles: ROLES };

  it('files within the caps run as without caps', () => {
    // TEST has one file, two cases, two dataset columns and one column per case: every cap exactly met.
    const exact = caps({ maxFiles: 1, maxCases: 2, maxColumns: 2, maxBytes: Buffer.byteLength(TEST) });
    expect(runPolicyTests(policy, { 't.yaml': TEST }, exact)).toEqual({ ok: true, files: 1, cases: 2, passed: 2, failures: [] });
    expect(checkPolicy({ documents: { 'p.yaml': RULES }, tests: { 't.yaml': TEST }, roles: ROLES, testCaps: exact }).tests).toEqual({ ok: true, files: 1, cases: 2, passed: 2, failures: [] });
  });

  it('one file too many is refused before anything is parsed', () => {
    const err = thrown(() => runPolicyTests(policy, { 'a.yaml': TEST, 'b.yaml': 'not: [yaml' }, caps({ maxFiles: 1 })));
    expect(err).toBeInstanceOf(PolicyTestsTooLargeError);
    expect((err as PolicyTestsTooLargeError).issues).toEqual([{ file: '(all)', case: null, message: '2 test files; at most 1' }]);
  });

  it('a file with a case over the cap stops the run before any case of any file, naming the file', () => {
    const err = thrown(() => runPolicyTests(policy, { 'a.yaml': TEST, 'b.yaml': 'not: [yaml' }, caps({ maxCases: 1 })));
    expect(err).toBeInstanceOf(PolicyTestsTooLargeError);
    expect((err as PolicyTestsTooLargeError).issues).toEqual([{ file: 'a.yaml', case: null, message: '2 cases; at most 1 per file' }]);
  });

  it('checkPolicy refuses oversized test files even before it compiles the candidate', () => {
    const broken = { 'p.yaml': RULES.replace('data-scientist', 'no-such-role') };
    const err = thrown(() => checkPolicy({ documents: broken, tests: { 'a.yaml': TEST, 'b.yaml': TEST }, roles: ROLES, testCaps: caps({ maxFiles: 1 }) }));
    expect(err).toBeInstanceOf(PolicyTestsTooLargeError);
    expect((err as PolicyTestsTooLargeError).issues).toEqual([{ file: '(all)', case: null, message: '2 test files; at most 1' }]);
    // Within the caps, the same candidate is reported as not compiling.
    expect(checkPolicy({ documents: broken, tests: { 'a.yaml': TEST }, roles: ROLES, testCaps: caps() }).issues).toHaveLength(1);
  });

  it('checkPolicy applies the per-file caps when it runs the tests', () => {
    const err = thrown(() => checkPolicy({ documents: { 'p.yaml': RULES }, tests: { 't.yaml': TEST }, roles: ROLES, testCaps: caps({ maxColumns: 1 }) }));
    expect((err as PolicyTestsTooLargeError).issues).toEqual([{ file: 't.yaml', case: null, message: 'dataset d has 2 columns; at most 1' }]);
  });
});

describe('test files that cannot be run', () => {
  const policy = { documents: [{ name: 'p.yaml', text: RULES }], roles: ROLES };

  it('a policy that does not compile is shown by its first five issues', () => {
    // Six rules naming six unknown roles: six issues, five shown.
    const rules = Array.from({ length: 6 }, (_, i) => `{ id: x${i}, effect: allow, roles: [ghost${i}], actions: [dataset:read] }`).join(', ');
    const r = runPolicyTests(policy, { 't.yaml': TEST.replace('policy: default', `policy: default\nrules: [${rules}]`) });
    expect(r.failures).toEqual([
      {
        file: 't.yaml',
        case: null,
        message: `the policy does not compile: ${[0, 1, 2, 3, 4].map((i) => `t.yaml#rules › x${i} › roles.0: unknown role ghost${i}`).join('; ')}`,
      },
    ]);
  });

  it('an inline policy knows only its own roles', () => {
    const inline = TEST.replace('policy: default', 'policy: inline\nrules: [{ id: own, effect: allow, roles: [data-scientist], actions: [dataset:read] }]');
    expect(runPolicyTests(policy, { 'i.yaml': inline }).failures).toEqual([
      { file: 'i.yaml', case: null, message: 'the policy does not compile: i.yaml#rules › own › roles.0: unknown role data-scientist' },
    ]);
  });

  it('a case naming an unknown dataset fails with the file and the name', () => {
    const r = runPolicyTests(policy, { 't.yaml': TEST.replace('principal: ann, dataset: d', 'principal: ann, dataset: nope') });
    expect(r.failures.map((f) => [f.case, f.message])).toEqual([['ann does not', 't.yaml: unknown dataset nope']]);
  });

  it('49 YAML aliases are read and 50 refused (the alias cap)', () => {
    // The dataset's purposes: one anchored name and n aliases of it (a list that may repeat; column names may not).
    const withAliases = (n: number) => TEST.replace('purposes: [model-training]', `purposes: [&p model-training${', *p'.repeat(n)}]`);
    expect(runPolicyTests(policy, { 't.yaml': withAliases(49) })).toMatchObject({ ok: true, passed: 2 });
    expect(runPolicyTests(policy, { 't.yaml': withAliases(50) }).failures).toEqual([{ file: 't.yaml', case: null, message: 'Excessive alias count indicates a resource exhaustion attack' }]);
  });

  it('a schema error lists the first five problems, each with its path', () => {
    const err = thrown(() => parsePolicyTestFile('f', 'description: 1\nnow: 2\nprincipals: 3\ndatasets: 4\ncases: 5\nextra: 6\n'));
    expect(err).toBeInstanceOf(PolicyTestFileError);
    expect((err as Error).message).toBe(
      'f: description: Invalid input: expected string, received number; now: Invalid input: expected string, received number; principals: Invalid input: expected record, received number; datasets: Invalid input: expected record, received number; cases: Invalid input: expected array, received number',
    );
    expect((thrown(() => parsePolicyTestFile('f', '5\n')) as Error).message).toBe('f: (file): Invalid input: expected object, received number');
    // A nested problem: its path dotted, as in the file.
    expect((thrown(() => parsePolicyTestFile('f', TEST.replace('ann: {}', 'ann: { kind: robot }'))) as Error).message).toBe('f: principals.ann.kind: Invalid option: expected one of "user"|"service"');
  });
});

describe('facts built from a test file', () => {
  it('datasets: plain and categorised columns, and the dataset audience', () => {
    const spec = parsePolicyTestFile('f', TEST.replace('columns: [a, b] }', 'columns: [a, { name: b }, { name: c, category: names }] }'));
    expect(buildDatasets(spec).get('d')).toEqual({
      id: 'd',
      project: 'p',
      owner: 'owner',
      classification: 'deidentified',
      purposes: ['model-training'],
      columns: [{ name: 'a' }, { name: 'b' }, { name: 'c', category: 'names' }],
      audience: 'urn:custos:dataset:d',
    });
  });

  it('a sponsor is the same principal as the one listed under its own name', () => {
    const spec = parsePolicyTestFile('f', TEST.replace('  ann: {}', '  bob: { kind: service, sponsor: sam }\n  ann: { kind: service, sponsor: sam }'));
    const ps = buildPrincipals(spec, 'f');
    expect(ps.get('bob')!.sponsor).toBe(ps.get('sam'));
    expect(ps.get('ann')!.sponsor).toBe(ps.get('sam'));
  });
});
