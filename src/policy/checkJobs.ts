/**
 * The jobs of a policy check worker (checkWorker.ts runs them in a worker
 * thread; checkInWorker.ts sends them): compile a candidate and run its test
 * files, or decide a batch of a simulation by the live and the candidate
 * policy. Each answer is a plain summary (a snapshot holds functions and
 * stays in the worker). Kept apart from the thread's wiring so the jobs can
 * be run, and tested, in any thread.
 */
import { createHash } from 'node:crypto';
import { decide } from '../engine/decide.ts';
import type { PolicySnapshot } from '../engine/snapshot.ts';
import type { Decision, DecisionInput } from '../engine/types.ts';
import { CustosError } from '../errors.ts';
import { checkPolicy, type CheckPolicyOptions } from './checkPolicy.ts';
import { compilePolicy, type RoleGraphEntry } from './compile.ts';
import type { ConditionLimits } from './conditionCost.ts';
import { sourcesOf } from './loadLivePolicy.ts';
import type { DecisionOutcome } from './simulate.ts';
import type { PolicyFiles } from './store.ts';

/** A policy as a worker compiles it: rule documents, role graph, snapshot version, condition budget. */
export interface PolicySpec {
  documents: PolicyFiles;
  roles: readonly RoleGraphEntry[];
  version: string;
  conditionLimits: ConditionLimits;
}

/** A job: check a candidate (validate, the push gate), or decide a batch of a simulation by two policies. */
export type CheckWorkerJob = ({ kind: 'check' } & CheckPolicyOptions) | { kind: 'decide'; live: PolicySpec; candidate: PolicySpec; inputs: DecisionInput[] };

/** What the worker posts: that it is ready for jobs, then one outcome per job. */
export type CheckWorkerMessage =
  | { kind: 'ready' }
  | { kind: 'done'; compiles: boolean; rules: number; issues: unknown[]; tests: unknown }
  | { kind: 'decided'; results: { live: DecisionOutcome; candidate: DecisionOutcome }[] }
  | { kind: 'failed'; code: string | null; message: string; issues?: unknown[] };

/** Compiled policies of recent simulations (a simulation sends the same two with every batch), at most `max` of them. */
export class SnapshotCache {
  private readonly compiled = new Map<string, PolicySnapshot>();
  readonly max: number;
  constructor(max: number = 4) {
    this.max = max;
  }

  /** The compiled `spec`: compiled once while it stays in the cache; a full cache is emptied first. */
  snapshotOf(spec: PolicySpec): PolicySnapshot {
    const key = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    let s = this.compiled.get(key);
    if (!s) {
      if (this.compiled.size >= this.max) this.compiled.clear();
      s = compilePolicy({ documents: sourcesOf(spec.documents), roles: spec.roles, version: spec.version, conditionLimits: spec.conditionLimits });
      this.compiled.set(key, s);
    }
    return s;
  }
}

const compiled = new SnapshotCache();

const outcome = (d: Decision): DecisionOutcome => ({ effect: d.effect, rules: d.rules, reasons: d.reasons });

/** Runs one job and says how it went (never throws). */
export function runJob(job: CheckWorkerJob): CheckWorkerMessage {
  if (job.kind === 'check') return runCheck(job);
  try {
    const live = compiled.snapshotOf(job.live);
    const candidate = compiled.snapshotOf(job.candidate);
    return { kind: 'decided', results: job.inputs.map((i) => ({ live: outcome(decide(i, live)), candidate: outcome(decide(i, candidate)) })) };
  } catch (err) {
    return { kind: 'failed', code: err instanceof CustosError ? err.code : null, message: err instanceof CustosError ? err.message : 'the simulation failed' };
  }
}

/** Runs one check and says how it went (never throws). */
export function runCheck(job: CheckPolicyOptions): CheckWorkerMessage {
  try {
    const r = checkPolicy(job);
    return { kind: 'done', compiles: r.snapshot !== null, rules: r.snapshot?.rules.length ?? 0, issues: r.issues, tests: r.tests };
  } catch (err) {
    return err instanceof CustosError ? { kind: 'failed', code: err.code, message: err.message, issues: (err as { issues?: unknown[] }).issues } : { kind: 'failed', code: null, message: 'the policy check failed' };
  }
}

/**
 * Runs a small check three times, before a worker says it is ready: the
 * parsers, the compiler and the engine are warm for the first job, whose
 * deadline then measures the job. Returns the last outcome (a passing check).
 */
export function warmUp(): CheckWorkerMessage {
  const job: CheckPolicyOptions = {
    documents: { 'warm.yaml': 'rules:\n  - id: warm\n    effect: allow\n    roles: [r]\n    actions: [dataset:read]\n    when: resource.project in principal.projects && request.columns.all(c, c != "")\n' },
    tests: {
      'warm.yaml':
        'description: warm-up\npolicy: default\nnow: 2026-01-01T00:00:00Z\nprincipals:\n  p: { roles: [{ role: r }], projects: [x] }\ndatasets:\n  d: { project: x, classification: deidentified, purposes: [research], columns: [a] }\ncases:\n  - name: warm\n    input: { principal: p, dataset: d, purpose: research, columns: [a] }\n    expect: { effect: allow }\n',
    },
    roles: [{ id: 'r', inherits: [] }],
  };
  let last = runCheck(job);
  for (let i = 1; i < 3; i++) last = runCheck(job);
  return last;
}
