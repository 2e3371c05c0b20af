/**
 * Policy checks (validate, the test gate of every push) and the decisions
 * of a simulation run in worker threads with a deadline and a heap limit,
 * so an expensive candidate — a costly condition times thousands of cases
 * or of logged requests — costs a worker, never the server's event loop: decisions, token requests and /healthz keep being
 * answered. A worker past its deadline is terminated; one past its heap
 * limit is stopped by V8. At most `workers` checks run at once; more are
 * refused at once rather than queued behind an attacker's.
 */
import { Worker } from 'node:worker_threads';
import { CustosError, isErrorCode } from '../errors.ts';
import type { CheckPolicyOptions } from './checkPolicy.ts';
import { PolicyTestsFailedError } from './checkPolicy.ts';
import type { CheckWorkerJob, CheckWorkerMessage, PolicySpec } from './checkJobs.ts';
import { PolicyInvalidError, type PolicyIssue } from './compile.ts';
import type { ConditionLimits } from './conditionCost.ts';
import type { PolicyTestReport } from './policyTests.ts';
import type { DecideBoth } from './simulate.ts';
import { PolicyTestsTooLargeError, type TestFileCapIssue, type TestFileCaps } from './testFileCaps.ts';

/** The limits of policy checks (CUSTOS_POLICY_CHECK_*, CONDITION_*, TESTS_*). */
export interface PolicyCheckSettings {
  timeoutMs: number;
  maxMemoryMb: number;
  workers: number;
  conditionLimits: ConditionLimits;
  testCaps: TestFileCaps;
}

/** What a check found: whether the candidate compiles (and its issues), and its test report. */
export interface PolicyCheckSummary {
  compiles: boolean;
  rules: number;
  issues: PolicyIssue[];
  tests: PolicyTestReport | null;
}

/** A check ran out of time or memory and was stopped: the candidate is refused. */
export class PolicyCheckLimitError extends CustosError {
  constructor(message: string) {
    super('policy_check_limit', message);
  }
}

/** Every check worker is busy: try again shortly. */
export class PolicyCheckBusyError extends CustosError {
  constructor(workers: number) {
    super('policy_check_busy', `${workers} policy check(s) are already running; try again shortly.`);
  }
}

/** Loading the worker's modules is bounded too, separately from the check. */
const STARTUP_MS = 30_000;
const ENTRY = new URL('./checkWorker.ts', import.meta.url).href;
// Node.js strips the TypeScript types itself, in workers as in the main thread.
const BOOT = `import(${JSON.stringify(ENTRY)})`;

/** A worker that has loaded its modules and waits for jobs. */
interface Ready {
  worker: Worker;
}

/** Runs policy checks in worker threads under `settings`. */
export class PolicyChecker {
  private running = 0;
  /** Warm workers waiting for a job: a check does not pay for loading modules again. */
  private readonly idle: Ready[] = [];
  readonly settings: PolicyCheckSettings;
  constructor(settings: PolicyCheckSettings) {
    this.settings = settings;
  }

  /** Checks and simulations holding a worker now. */
  get inFlight(): number {
    return this.running;
  }

  /** Compiles the candidate and runs its tests in a worker; throws PolicyTestsTooLargeError, PolicyCheckLimitError, PolicyCheckBusyError. */
  async check(o: Pick<CheckPolicyOptions, 'documents' | 'tests' | 'roles'>): Promise<PolicyCheckSummary> {
    const s = this.settings;
    const m = await this.withWorker((send) => send({ kind: 'check', documents: o.documents, tests: o.tests, roles: o.roles, conditionLimits: s.conditionLimits, testCaps: s.testCaps }));
    if (m.kind !== 'done') throw new CustosError('internal_error', 'unexpected answer of a policy check worker');
    return { compiles: m.compiles, rules: m.rules, issues: m.issues as PolicyIssue[], tests: m.tests as PolicyTestReport | null };
  }

  /**
   * Runs `simulate` with a decider that decides each batch in one worker, by
   * the live and the candidate policy, each batch under the deadline; the
   * worker is held (one of `workers`) until the simulation ends.
   */
  async simulate<T>(o: { live: Omit<PolicySpec, 'conditionLimits'>; candidate: Omit<PolicySpec, 'conditionLimits'> }, simulate: (decide: DecideBoth) => Promise<T>): Promise<T> {
    const limits = this.settings.conditionLimits;
    const live = { ...o.live, conditionLimits: limits };
    const candidate = { ...o.candidate, conditionLimits: limits };
    return this.withWorker((send) =>
      simulate(async (inputs) => {
        const m = await send({ kind: 'decide', live, candidate, inputs });
        if (m.kind !== 'decided') throw new CustosError('internal_error', 'unexpected answer of a policy check worker');
        return m.results;
      }),
    );
  }

  /** Holds a warm worker (one of `workers`) while `fn` sends it jobs; a worker that failed a job is never reused. */
  private async withWorker<T>(fn: (send: (job: CheckWorkerJob) => Promise<CheckWorkerMessage>) => Promise<T>): Promise<T> {
    const s = this.settings;
    if (this.running >= s.workers) throw new PolicyCheckBusyError(s.workers);
    this.running++;
    try {
      const ready = this.idle.pop() ?? (await this.spawn());
      let healthy = true;
      const send = async (job: CheckWorkerJob) => {
        try {
          return await this.run(ready, job);
        } catch (err) {
          // A refusal by the caps is an answer; the worker is fine.
          if (!(err instanceof PolicyTestsTooLargeError)) healthy = false;
          throw err;
        }
      };
      try {
        return await fn(send);
      } finally {
        if (healthy) this.idle.push(ready);
      }
    } finally {
      this.running--;
    }
  }

  /** Like {@link check}, but throws PolicyInvalidError or PolicyTestsFailedError when the candidate does not pass. */
  async assertPasses(o: Pick<CheckPolicyOptions, 'documents' | 'tests' | 'roles'>): Promise<PolicyCheckSummary> {
    const r = await this.check(o);
    if (!r.compiles) throw new PolicyInvalidError(r.issues);
    if (r.tests && !r.tests.ok) throw new PolicyTestsFailedError(r.tests);
    return r;
  }

  /** Stops the idle workers (a running check ends with its own). */
  async close(): Promise<void> {
    await Promise.all(this.idle.splice(0).map((r) => r.worker.terminate()));
  }

  private spawn(): Promise<Ready> {
    const s = this.settings;
    return new Promise((resolve, reject) => {
      const worker = new Worker(BOOT, { eval: true, resourceLimits: { maxOldGenerationSizeMb: s.maxMemoryMb, maxYoungGenerationSizeMb: Math.min(32, s.maxMemoryMb) } });
      // An idle worker must not keep the process alive.
      worker.unref();
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new PolicyCheckLimitError('The policy check worker did not start in time.'));
      }, STARTUP_MS);
      worker.once('message', (m: CheckWorkerMessage) => {
        clearTimeout(timer);
        if (m.kind === 'ready') resolve({ worker });
        else reject(new CustosError('internal_error', 'the policy check worker did not start'));
      });
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** One job on a ready worker, under the deadline; a worker that fails in any way is terminated, never reused. */
  private run(ready: Ready, job: CheckWorkerJob): Promise<CheckWorkerMessage> {
    const s = this.settings;
    const { worker } = ready;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (ok: boolean, fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (!ok) void worker.terminate();
        fn();
      };
      const stop = (message: string) => finish(false, () => reject(new PolicyCheckLimitError(message)));
      const onMessage = (m: CheckWorkerMessage) => {
        if (m.kind === 'done' || m.kind === 'decided') finish(true, () => resolve(m));
        else if (m.kind === 'failed' && m.code === 'policy_tests_too_large') finish(true, () => reject(new PolicyTestsTooLargeError((m.issues ?? []) as TestFileCapIssue[])));
        else if (m.kind === 'failed') finish(false, () => reject(new CustosError(isErrorCode(m.code) ? m.code : 'internal_error', m.message)));
      };
      const onError = (err: Error & { code?: string }) => {
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') stop(`The policy check needed more than ${s.maxMemoryMb} MB and was stopped (CUSTOS_POLICY_CHECK_MAX_MEMORY_MB): make conditions or test files smaller.`);
        else finish(false, () => reject(err));
      };
      const onExit = () => stop('The policy check stopped before it finished.');
      const timer = setTimeout(() => stop(`The policy check ran longer than ${s.timeoutMs} ms and was stopped (CUSTOS_POLICY_CHECK_TIMEOUT_MS): make conditions or test files cheaper.`), s.timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      // While it works for a request, the worker is as much a part of the process as the request.
      worker.ref();
      worker.postMessage(job);
    }).finally(() => worker.unref()) as Promise<CheckWorkerMessage>;
  }
}
