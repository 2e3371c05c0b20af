/**
 * The jobs a policy check worker runs (checkJobs.ts), run here in the test's
 * own thread: a check reports whether the candidate compiles, its rule count,
 * its issues and its test report, and turns every failure into a 'failed'
 * answer (the code of a Custos error; a generic message for anything else,
 * which may hold internals); a decide job answers each input by the live and
 * the candidate policy; compiled policies are reused across the batches of
 * a simulation, at most four at a time.
 */
import { describe, expect, it } from 'vitest';
import { runCheck, runJob, SnapshotCache, warmUp, type PolicySpec } from '../../src/policy/checkJobs.ts';
import type { RoleGraphEntry } from '../../src/policy/compile.ts';
import { DEFAULT_CONDITION_LIMITS } from '../../src/policy/conditionCost.ts';
import { DEFAULT_TEST_FILE_CAPS } from '../../src/policy/testFileCaps.ts';
import { dataset, defaultRoles, principal, request, role } from '../engine/support.ts';
import { ALLOW, DENY_D2, TEST } from './checkFixtures.ts';

const ROLES = defaultRoles();

/** A role graph whose entry is not a graph: compiling it throws a TypeError, not a Custos error. */
const BROKEN_ROLES = [{ id: 'x', inherits: null as unknown as string[] }] as RoleGraphEntry[];

const spec = (rules: string, version = 'v1'): PolicySpec => ({ documents: { 'p.yaml': rules }, roles: ROLES, version, conditionLimits: DEFAULT_CONDITION_LIMITS });

describe('check jobs', () => {
  it('report a candidate that compiles: its rule count, no issues, and its test report', () => {
    const m = runJob({ kind: 'check', documents: { 'p.yaml': DENY_D2 }, tests: { 't.yaml': TEST }, roles: ROLES });
    // Two rules (sci-read, no-d2); the one file's two cases pass (d is not d2).
    expect(m).toStrictEqual({ kind: 'done', compiles: true, rules: 2, issues: [], tests: { ok: true, files: 1, cases: 2, passed: 2, failures: [] } });
  });

  it('report failing cases in the test report, not as a failed job', () => {
    const m = runCheck({ documents: { 'p.yaml': ALLOW.replace('data-scientist', 'approver') }, tests: { 't.yaml': TEST }, roles: ROLES });
    expect(m).toMatchObject({ kind: 'done', compiles: true, rules: 1, issues: [], tests: { ok: false, files: 1, cases: 2, passed: 1 } });
    expect((m as { tests: { failures: { case: string }[] } }).tests.failures.map((f) => f.case)).toEqual(['sam reads']);
  });

  it('report a candidate that does not compile with its issues, no rules and no tests run', () => {
    const m = runCheck({ documents: { 'p.yaml': ALLOW.replace('data-scientist', 'no-such-role') }, tests: { 't.yaml': TEST }, roles: ROLES });
    expect(m).toStrictEqual({ kind: 'done', compiles: false, rules: 0, issues: [{ document: 'p.yaml', rule: 'sci-read', field: 'roles.0', message: 'unknown role no-such-role' }], tests: null });
  });

  it('count zero rules for an empty candidate that compiles', () => {
    expect(runCheck({ documents: { 'p.yaml': 'rules: []\n' }, tests: {}, roles: ROLES })).toStrictEqual({ kind: 'done', compiles: true, rules: 0, issues: [], tests: { ok: true, files: 0, cases: 0, passed: 0, failures: [] } });
  });

  it('answer test files over a cap as failed, with the code and every issue', () => {
    // maxFiles 1 and two files: the size cap refuses them before anything is compiled.
    const m = runCheck({ documents: { 'p.yaml': ALLOW }, tests: { 'a.yaml': TEST, 'b.yaml': TEST }, roles: ROLES, testCaps: { ...DEFAULT_TEST_FILE_CAPS, maxFiles: 1 } });
    expect(m).toStrictEqual({
      kind: 'failed',
      code: 'policy_tests_too_large',
      message: 'The policy test files exceed 1 cap(s): (all): 2 test files; at most 1',
      issues: [{ file: '(all)', case: null, message: '2 test files; at most 1' }],
    });
  });

  it('answer any other error with a generic message and no code (its own message may hold internals)', () => {
    expect(runJob({ kind: 'check', documents: { 'p.yaml': ALLOW }, tests: {}, roles: BROKEN_ROLES })).toStrictEqual({ kind: 'failed', code: null, message: 'the policy check failed' });
  });
});

describe('decide jobs', () => {
  const sci = principal('sci', { roles: [role('data-scientist')] });

  it('answer each input, in order, by the live and by the candidate policy', () => {
    const m = runJob({ kind: 'decide', live: spec(ALLOW), candidate: spec(DENY_D2, 'v2'), inputs: [request(sci, dataset('d1')), request(sci, dataset('d2')), request(principal('ann'), dataset('d1'))] });
    const readAll = { effect: 'allow', rules: ['sci-read'], reasons: [] };
    const noRole = { effect: 'deny', rules: [], reasons: ['no role (standing or active grant) applies to dataset d1 in project p0'] };
    expect(m).toStrictEqual({
      kind: 'decided',
      results: [
        // d1: both allow; d2: only the candidate's no-d2 denies; ann: no role under either.
        { live: readAll, candidate: readAll },
        { live: readAll, candidate: { effect: 'deny', rules: ['no-d2'], reasons: ['denied by rule no-d2'] } },
        { live: noRole, candidate: noRole },
      ],
    });
  });

  it('answer an empty batch with no results', () => {
    expect(runJob({ kind: 'decide', live: spec(ALLOW), candidate: spec(DENY_D2, 'v2'), inputs: [] })).toStrictEqual({ kind: 'decided', results: [] });
  });

  it('answer a policy that does not compile as failed, with its code and message', () => {
    const m = runJob({ kind: 'decide', live: spec(ALLOW), candidate: spec(ALLOW.replace('data-scientist', 'nope'), 'v2'), inputs: [request(sci, dataset('d1'))] });
    expect(m).toStrictEqual({ kind: 'failed', code: 'policy_invalid', message: 'The policy has 1 problem(s): p.yaml › sci-read › roles.0: unknown role nope' });
  });

  it('answer any other error with a generic message and no code', () => {
    const m = runJob({ kind: 'decide', live: { ...spec(ALLOW), roles: BROKEN_ROLES }, candidate: spec(ALLOW), inputs: [] });
    expect(m).toStrictEqual({ kind: 'failed', code: null, message: 'the simulation failed' });
  });
});

describe('the cache of compiled policies', () => {
  const specs = ['a', 'b', 'c', 'd', 'e'].map((v) => spec(ALLOW, v));

  it('compiles a policy once and gives the same snapshot for an equal spec', () => {
    const cache = new SnapshotCache();
    const first = cache.snapshotOf(specs[0]!);
    expect(first.version).toBe('a');
    expect(first.rules.map((r) => r.id)).toEqual(['sci-read']);
    expect(cache.snapshotOf(structuredClone(specs[0]!))).toBe(first);
    // Another version of the same documents is another policy.
    expect(cache.snapshotOf(specs[1]!)).not.toBe(first);
    expect(cache.snapshotOf(specs[1]!).version).toBe('b');
  });

  it('keeps four policies, and is emptied for a fifth', () => {
    const cache = new SnapshotCache();
    expect(cache.max).toBe(4);
    const held = specs.slice(0, 4).map((s) => cache.snapshotOf(s));
    // All four still cached: a simulation's live and candidate plus two more.
    specs.slice(0, 4).forEach((s, i) => expect(cache.snapshotOf(s)).toBe(held[i]));
    const fifth = cache.snapshotOf(specs[4]!);
    expect(cache.snapshotOf(specs[4]!)).toBe(fifth);
    // The fifth emptied the cache: the first is compiled anew.
    expect(cache.snapshotOf(specs[0]!)).not.toBe(held[0]);
  });
});

describe('the warm-up', () => {
  it('is a check that passes: one rule, one passing case', () => {
    expect(warmUp()).toStrictEqual({ kind: 'done', compiles: true, rules: 1, issues: [], tests: { ok: true, files: 1, cases: 1, passed: 1, failures: [] } });
  });
});
