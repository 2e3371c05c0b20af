/**
 * The limits of a policy check, with real worker threads: a check or a
 * simulation's batch that runs longer than the deadline is stopped, its
 * worker terminated, and the checker goes on with a new worker; a job that
 * needs more memory than a worker may have is stopped by V8.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PolicyCheckLimitError, PolicyChecker } from '../../src/policy/checkInWorker.ts';
import { DEFAULT_CONDITION_LIMITS } from '../../src/policy/conditionCost.ts';
import { DEFAULT_TEST_FILE_CAPS } from '../../src/policy/testFileCaps.ts';
import { dataset, defaultRoles, principal, request, role } from '../engine/support.ts';

const ROLES = defaultRoles();
const DEADLINE_MS = 700;
const ALLOW = 'rules:\n  - id: sci-read\n    effect: allow\n    roles: [data-scientist]\n    actions: [dataset:read]\n';
const CHEAP = { documents: { 'p.yaml': ALLOW }, tests: {}, roles: ROLES };

/** 775 memberships make `principal.projects.all(p, p in principal.projects)` just under the default budget: milliseconds per case. */
const projects = Array.from({ length: 775 }, (_, i) => `p${i}`);
const WHEN = 'principal.projects.all(p, p in principal.projects)';
const COSTLY_RULES = `${ALLOW}    when: ${WHEN}\n`;
/** 3,000 cases of the costly rule: seconds of work on any machine, far beyond the deadline. */
const COSTLY_TEST = stringify({
  description: 'costly',
  policy: 'default',
  now: '2026-06-01T12:00:00Z',
  principals: { sam: { roles: [{ role: 'data-scientist' }], projects } },
  datasets: { d: { project: 'p0', classification: 'deidentified', purposes: ['research'], columns: ['x'] } },
  cases: Array.from({ length: 3000 }, (_, i) => ({ name: `case ${i}`, input: { principal: 'sam', dataset: 'd', purpose: 'research', columns: ['x'] }, expect: { effect: 'allow' } })),
});

const DEADLINE_MESSAGE = `The policy check ran longer than ${DEADLINE_MS} ms and was stopped (CUSTOS_POLICY_CHECK_TIMEOUT_MS): make conditions or test files cheaper.`;

let checker: PolicyChecker | undefined;
/** The checker with the short deadline and a warm worker (the deadline counts the job, not the start of a worker), made by the first test that needs it. */
async function warmChecker(): Promise<PolicyChecker> {
  if (!checker) {
    checker = new PolicyChecker({ timeoutMs: DEADLINE_MS, maxMemoryMb: 256, workers: 1, conditionLimits: DEFAULT_CONDITION_LIMITS, testCaps: { ...DEFAULT_TEST_FILE_CAPS, maxCases: 5000 } });
    await checker.check(CHEAP);
  }
  return checker;
}
afterAll(async () => checker?.close());

/** What `start()` rejects with, and how many milliseconds after it was called (before it, so its deadline timer starts after `t`). */
async function rejection(start: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t = performance.now();
  try {
    await start();
  } catch (err) {
    return { err, ms: performance.now() - t };
  }
  throw new Error('expected a rejection');
}

describe('the deadline', () => {
  it('stops a check that runs longer, and a later check runs in a new worker', async () => {
    const checker = await warmChecker();
    // The costly rule, not the plain one: 3,000 cases of a cheap rule finish within the deadline on a quick machine.
    const { err, ms } = await rejection(() => checker.check({ documents: { 'p.yaml': COSTLY_RULES }, tests: { 'slow.yaml': COSTLY_TEST }, roles: ROLES }));
    expect(err).toBeInstanceOf(PolicyCheckLimitError);
    expect(err).toMatchObject({ code: 'policy_check_limit', message: DEADLINE_MESSAGE });
    // Stopped at the deadline, not when the 3,000 cases were done.
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    expect(ms).toBeLessThan(DEADLINE_MS + 1500);
    expect(await checker.check(CHEAP)).toStrictEqual({ compiles: true, rules: 1, issues: [], tests: { ok: true, files: 0, cases: 0, passed: 0, failures: [] } });
  });

  it('bounds each batch of a simulation', async () => {
    const checker = await warmChecker();
    const sam = principal('sam', { roles: [role('data-scientist')], projects });
    const spec = { documents: { 'p.yaml': COSTLY_RULES }, roles: ROLES, version: 'v1' };
    const inputs = Array.from({ length: 3000 }, () => request(sam, dataset('d')));
    let batches = 0;
    const { err } = await rejection(() =>
      checker.simulate({ live: spec, candidate: { ...spec, version: 'v2' } }, async (decideBoth) => {
        // A small batch within the deadline, then one far beyond it.
        expect(await decideBoth(inputs.slice(0, 1))).toHaveLength(1);
        batches++;
        await decideBoth(inputs);
        batches++;
      }),
    );
    expect(batches).toBe(1);
    expect(err).toMatchObject({ code: 'policy_check_limit', message: DEADLINE_MESSAGE });
  });
});

describe('the memory limit', () => {
  it('stops a job that needs more than a worker may have', async () => {
    const small = new PolicyChecker({ timeoutMs: 20_000, maxMemoryMb: 24, workers: 1, conditionLimits: DEFAULT_CONDITION_LIMITS, testCaps: DEFAULT_TEST_FILE_CAPS });
    try {
      // 40 MB of attributes in one logged request: the worker cannot even hold the batch it is sent in 24 MB.
      const sam = principal('sam', { roles: [role('data-scientist')], attributes: { big: Array.from({ length: 40 }, (_, i) => `${'x'.repeat(1_000_000)}${i}`) } });
      const spec = { documents: { 'p.yaml': ALLOW }, roles: ROLES, version: 'v1' };
      const { err } = await rejection(() => small.simulate({ live: spec, candidate: spec }, (decideBoth) => decideBoth([request(sam, dataset('d'))])));
      expect(err).toBeInstanceOf(PolicyCheckLimitError);
      expect(err).toMatchObject({
        code: 'policy_check_limit',
        message: 'The policy check needed more than 24 MB and was stopped (CUSTOS_POLICY_CHECK_MAX_MEMORY_MB): make conditions or test files smaller.',
      });
    } finally {
      await small.close();
    }
  });
});
