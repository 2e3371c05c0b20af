/**
 * PolicyChecker, the server's side of the policy check workers, with real
 * worker threads: a check's summary, the errors a caller acts on (invalid
 * candidate, failing tests, test files over a cap, anything else), the
 * settings a worker is given (condition budget, test-file caps), a
 * simulation's batches decided in one worker, warm workers reused and a
 * worker that failed replaced, and checks beyond `workers` refused at once.
 * Threads are counted through the `worker_threads` diagnostics channel,
 * which Node publishes on for every thread it creates.
 */
import dc from 'node:diagnostics_channel';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustosError } from '../../src/errors.ts';
import { PolicyTestsFailedError } from '../../src/policy/checkPolicy.ts';
import { PolicyCheckBusyError, PolicyChecker, type PolicyCheckSettings } from '../../src/policy/checkInWorker.ts';
import { PolicyInvalidError, type RoleGraphEntry } from '../../src/policy/compile.ts';
import { DEFAULT_TEST_FILE_CAPS, PolicyTestsTooLargeError } from '../../src/policy/testFileCaps.ts';
import { dataset, defaultRoles, principal, request, role } from '../engine/support.ts';
import { ALLOW, DENY_D2, TEST } from './checkFixtures.ts';

const ROLES = defaultRoles();

/** ALLOW with a condition of cost 8,003 for the largest request the API accepts (2,000 columns): over a budget of 1,000. */
const COSTLY = `${ALLOW}    when: request.columns.all(c, c != "")\n`;
const PASSING = { documents: { 'p.yaml': ALLOW }, tests: { 't.yaml': TEST }, roles: ROLES };
const PASSING_SUMMARY = { compiles: true, rules: 1, issues: [], tests: { ok: true, files: 1, cases: 2, passed: 2, failures: [] } };

/** One worker; a condition budget of 1,000 (not the default 1,000,000) and at most two test files, so that the worker is seen to use them. */
const SETTINGS: PolicyCheckSettings = {
  timeoutMs: 20_000,
  maxMemoryMb: 256,
  workers: 1,
  conditionLimits: { maxCost: 1000, maxElements: 1_000_000 },
  testCaps: { ...DEFAULT_TEST_FILE_CAPS, maxFiles: 2 },
};

let created = 0;
/** Threads created and not yet exited. */
const alive = new Set<Worker>();
const onThread = (message: unknown) => {
  created++;
  const { worker } = message as { worker: Worker };
  alive.add(worker);
  worker.once('exit', () => alive.delete(worker));
};
/** The number of worker threads `fn` made this thread create. */
async function threadsCreatedBy(fn: () => Promise<unknown>): Promise<number> {
  const before = created;
  await fn();
  return created - before;
}

/** What `p` rejects with. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

let checker: PolicyChecker | undefined;
/**
 * The checker of these tests, with a warm worker: made by the first test
 * that needs it, so that a failure to start or check is that test's
 * failure, not a hook's.
 */
async function warmChecker(): Promise<PolicyChecker> {
  if (!checker) {
    checker = new PolicyChecker(SETTINGS);
    expect(await checker.check(PASSING)).toStrictEqual(PASSING_SUMMARY);
  }
  return checker;
}
beforeAll(() => {
  dc.subscribe('worker_threads', onThread);
});
afterAll(async () => {
  dc.unsubscribe('worker_threads', onThread);
  await checker?.close();
});

describe('a check', () => {
  it('answers whether the candidate compiles, its rule count, its issues and its test report', async () => {
    const checker = await warmChecker();
    expect(await checker.check({ documents: { 'p.yaml': DENY_D2 }, tests: { 't.yaml': TEST }, roles: ROLES })).toStrictEqual({
      compiles: true,
      // sci-read and no-d2; both cases pass (d is not d2).
      rules: 2,
      issues: [],
      tests: { ok: true, files: 1, cases: 2, passed: 2, failures: [] },
    });
  });

  it('compiles under the configured condition budget', async () => {
    const checker = await warmChecker();
    expect(await checker.check({ documents: { 'p.yaml': COSTLY }, tests: {}, roles: ROLES })).toStrictEqual({
      compiles: false,
      rules: 0,
      issues: [{ document: 'p.yaml', rule: 'sci-read', field: 'when', message: 'too expensive: for requests of the sizes the API accepts, its cost (at most 8003) exceeds the budget of 1000' }],
      tests: null,
    });
  });

  it('runs in the idle worker: checks one after another create no thread', async () => {
    const checker = await warmChecker();
    const threads = await threadsCreatedBy(async () => {
      expect(await checker.check(PASSING)).toStrictEqual(PASSING_SUMMARY);
      expect(await checker.check(PASSING)).toStrictEqual(PASSING_SUMMARY);
    });
    expect(threads).toBe(0);
  });

  it('refuses test files over the configured caps with every issue, and keeps the worker', async () => {
    const checker = await warmChecker();
    const threads = await threadsCreatedBy(async () => {
      // Three files; the checker allows two.
      const err = await rejection(checker.check({ ...PASSING, tests: { 'a.yaml': TEST, 'b.yaml': TEST, 'c.yaml': TEST } }));
      expect(err).toBeInstanceOf(PolicyTestsTooLargeError);
      expect((err as PolicyTestsTooLargeError).code).toBe('policy_tests_too_large');
      expect((err as PolicyTestsTooLargeError).issues).toEqual([{ file: '(all)', case: null, message: '3 test files; at most 2' }]);
      // A refusal by the caps is an answer: the worker goes on.
      expect(await checker.check(PASSING)).toStrictEqual(PASSING_SUMMARY);
    });
    expect(threads).toBe(0);
  });

  it('answers any other failure as an internal error, and replaces the worker', async () => {
    const checker = await warmChecker();
    const threads = await threadsCreatedBy(async () => {
      const err = await rejection(checker.check({ ...PASSING, roles: [{ id: 'x', inherits: null as unknown as string[] }] as RoleGraphEntry[] }));
      expect(err).toBeInstanceOf(CustosError);
      expect(err).toMatchObject({ code: 'internal_error', message: 'the policy check failed' });
      expect(await checker.check(PASSING)).toStrictEqual(PASSING_SUMMARY);
    });
    expect(threads).toBe(1);
  });
});

describe('assertPasses', () => {
  it('returns the summary of a candidate that passes', async () => {
    const checker = await warmChecker();
    expect(await checker.assertPasses(PASSING)).toStrictEqual(PASSING_SUMMARY);
  });

  it('throws PolicyInvalidError with every issue for a candidate that does not compile', async () => {
    const checker = await warmChecker();
    const err = await rejection(checker.assertPasses({ ...PASSING, documents: { 'p.yaml': ALLOW.replace('data-scientist', 'no-such-role') } }));
    expect(err).toBeInstanceOf(PolicyInvalidError);
    expect((err as PolicyInvalidError).code).toBe('policy_invalid');
    expect((err as PolicyInvalidError).issues).toEqual([{ document: 'p.yaml', rule: 'sci-read', field: 'roles.0', message: 'unknown role no-such-role' }]);
  });

  it('throws PolicyTestsFailedError naming the failing cases for a candidate whose tests fail', async () => {
    const checker = await warmChecker();
    // Only approvers may read: sam's case fails, ann's still passes.
    const err = await rejection(checker.assertPasses({ ...PASSING, documents: { 'p.yaml': ALLOW.replace('data-scientist', 'approver') } }));
    expect(err).toBeInstanceOf(PolicyTestsFailedError);
    expect((err as PolicyTestsFailedError).code).toBe('policy_tests_failed');
    expect((err as PolicyTestsFailedError).report).toMatchObject({ ok: false, files: 1, cases: 2, passed: 1 });
    expect((err as PolicyTestsFailedError).report.failures.map((f) => f.case)).toEqual(['sam reads']);
  });
});

describe('a simulation', () => {
  const sci = principal('sci', { roles: [role('data-scientist')] });
  const readAll = { effect: 'allow', rules: ['sci-read'], reasons: [] };
  const specs = { live: { documents: { 'p.yaml': ALLOW }, roles: ROLES, version: 'v1' }, candidate: { documents: { 'p.yaml': DENY_D2 }, roles: ROLES, version: 'v2' } };

  it('decides each batch by the live and the candidate policy, all in one worker, and returns what the simulation returns', async () => {
    const checker = await warmChecker();
    let result: unknown;
    const threads = await threadsCreatedBy(async () => {
      result = await checker.simulate(specs, async (decideBoth) => {
        const first = await decideBoth([request(sci, dataset('d1')), request(sci, dataset('d2'))]);
        const second = await decideBoth([request(sci, dataset('d2'))]);
        return { first, second };
      });
    });
    const denied = { effect: 'deny', rules: ['no-d2'], reasons: ['denied by rule no-d2'] };
    expect(result).toStrictEqual({
      first: [
        { live: readAll, candidate: readAll },
        { live: readAll, candidate: denied },
      ],
      second: [{ live: readAll, candidate: denied }],
    });
    expect(threads).toBe(0);
  });

  it('compiles the policies under the configured condition budget', async () => {
    const checker = await warmChecker();
    const err = await rejection(checker.simulate({ ...specs, candidate: { ...specs.candidate, documents: { 'p.yaml': COSTLY } } }, (decideBoth) => decideBoth([request(sci, dataset('d1'))])));
    expect(err).toBeInstanceOf(CustosError);
    expect(err).toMatchObject({ code: 'policy_invalid', message: 'The policy has 1 problem(s): p.yaml › sci-read › when: too expensive: for requests of the sizes the API accepts, its cost (at most 8003) exceeds the budget of 1000' });
  });
});

describe('the workers', () => {
  it('are at most `workers` at once: one more check or simulation is refused at once, and later ones run', async () => {
    const checker = await warmChecker();
    const first = checker.check(PASSING);
    const busy = await rejection(checker.check(PASSING));
    expect(busy).toBeInstanceOf(PolicyCheckBusyError);
    expect(busy).toMatchObject({ code: 'policy_check_busy', message: '1 policy check(s) are already running; try again shortly.' });
    const simulation = await rejection(checker.simulate({ live: { documents: PASSING.documents, roles: ROLES, version: 'v1' }, candidate: { documents: PASSING.documents, roles: ROLES, version: 'v1' } }, async () => 0));
    expect(simulation).toBeInstanceOf(PolicyCheckBusyError);
    expect(await first).toStrictEqual(PASSING_SUMMARY);
    // The refused calls took no worker: the next two, one after the other, run.
    expect(await checker.check(PASSING)).toStrictEqual(PASSING_SUMMARY);
    expect(await checker.check(PASSING)).toStrictEqual(PASSING_SUMMARY);
  });

  it('that are idle are stopped by close; a later check starts a new one', async () => {
    const checker = await warmChecker();
    expect(alive.size).toBe(1);
    const threads = await threadsCreatedBy(async () => {
      await checker.close();
      expect(alive.size).toBe(0);
      expect(await checker.check(PASSING)).toStrictEqual(PASSING_SUMMARY);
    });
    expect(threads).toBe(1);
  });

  it('that cannot start fail their check with the reason, and take no place', async () => {
    // 8 MB is too little to load the checker's modules: V8 stops the thread as it starts. (Not
    // smaller: under about 4 MB, Node.js 24's V8 aborts the whole process while it deserializes the
    // thread's start-up snapshot, one reason the configured floor, CUSTOS_POLICY_CHECK_MAX_MEMORY_MB, is 16.)
    const tiny = new PolicyChecker({ ...SETTINGS, maxMemoryMb: 8 });
    try {
      for (let i = 0; i < 2; i++) {
        const err = await rejection(tiny.check(PASSING));
        expect(err).toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY' });
      }
    } finally {
      await tiny.close();
    }
  });
});
