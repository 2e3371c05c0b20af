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
import { buildPrincipals, checkDecision, parsePolicyTestFile, PolicyTestFileError, runPolicyTests } from '../../src/policy/policyTests.ts';
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
