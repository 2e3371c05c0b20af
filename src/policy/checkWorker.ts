/**
 * The body of a policy check worker thread (see checkInWorker.ts): for each
 * job, compiles the candidate and runs its test files, then posts a plain
 * summary (a snapshot holds functions and stays here). It says when it is
 * ready, so a job's deadline counts the check, not the loading of modules.
 */
import { parentPort } from 'node:worker_threads';
import { CustosError } from '../errors.ts';
import { checkPolicy, type CheckPolicyOptions } from './checkPolicy.ts';

/** What the worker posts: that it is ready for jobs, then one outcome per job. */
export type CheckWorkerMessage =
  | { kind: 'ready' }
  | { kind: 'done'; compiles: boolean; rules: number; issues: unknown[]; tests: unknown }
  | { kind: 'failed'; code: string | null; message: string; issues?: unknown[] };

/** Runs one check and says how it went (never throws). */
export function runCheck(job: CheckPolicyOptions): CheckWorkerMessage {
  try {
    const r = checkPolicy(job);
    return { kind: 'done', compiles: r.snapshot !== null, rules: r.snapshot?.rules.length ?? 0, issues: r.issues, tests: r.tests };
  } catch (err) {
    return err instanceof CustosError ? { kind: 'failed', code: err.code, message: err.message, issues: (err as { issues?: unknown[] }).issues } : { kind: 'failed', code: null, message: 'the policy check failed' };
  }
}

/** A small check run once before the worker says it is ready: the parsers, the compiler and the engine are warm for the first job, whose deadline then measures the job. */
const WARM_UP: CheckPolicyOptions = {
  documents: { 'warm.yaml': 'rules:\n  - id: warm\n    effect: allow\n    roles: [r]\n    actions: [dataset:read]\n    when: resource.project in principal.projects && request.columns.all(c, c != "")\n' },
  tests: {
    'warm.yaml':
      'description: warm-up\npolicy: default\nnow: 2026-01-01T00:00:00Z\nprincipals:\n  p: { roles: [{ role: r }], projects: [x] }\ndatasets:\n  d: { project: x, classification: deidentified, purposes: [research], columns: [a] }\ncases:\n  - name: warm\n    input: { principal: p, dataset: d, purpose: research, columns: [a] }\n    expect: { effect: allow }\n',
  },
  roles: [{ id: 'r', inherits: [] }],
};

const port = parentPort;
if (!port) throw new Error('checkWorker runs in a worker thread');
port.on('message', (job: CheckPolicyOptions) => port.postMessage(runCheck(job)));
for (let i = 0; i < 3; i++) runCheck(WARM_UP);
port.postMessage({ kind: 'ready' } satisfies CheckWorkerMessage);
