/**
 * The gate of every policy edit: the candidate compiles against the current
 * role graph, and its own test files pass against it.
 */
import type { PolicySnapshot } from '../engine/snapshot.ts';
import { CustosError } from '../errors.ts';
import { compilePolicy, PolicyInvalidError, type PolicyIssue, type RoleGraphEntry } from './compile.ts';
import { sourcesOf } from './loadLivePolicy.ts';
import { runPolicyTests, type PolicyTestFailure, type PolicyTestReport } from './policyTests.ts';
import type { PolicyFiles } from './store.ts';

/** The candidate's test files fail; `failures` names each failing case. */
export class PolicyTestsFailedError extends CustosError {
  readonly report: PolicyTestReport;
  constructor(report: PolicyTestReport) {
    super('policy_tests_failed', `${report.failures.length} policy test(s) fail; the policy was not changed.`);
    this.report = report;
  }

  /** Sent to the client with the problem document. */
  get problemExtensions(): { failures: PolicyTestFailure[]; tests: Omit<PolicyTestReport, 'failures'> } {
    const { failures, ...tests } = this.report;
    return { failures, tests };
  }
}

/** Result of {@link checkPolicy}: the compiled candidate and its test report. */
export interface CheckPolicyResult {
  snapshot: PolicySnapshot | null;
  issues: PolicyIssue[];
  tests: PolicyTestReport | null;
}

/** Compiles the candidate and runs its tests; never throws for an invalid policy. */
export function checkPolicy(o: { documents: PolicyFiles; tests: PolicyFiles; roles: readonly RoleGraphEntry[]; version?: string }): CheckPolicyResult {
  const sources = sourcesOf(o.documents);
  let snapshot: PolicySnapshot;
  try {
    snapshot = compilePolicy({ documents: sources, roles: o.roles, ...(o.version ? { version: o.version } : {}) });
  } catch (err) {
    if (err instanceof PolicyInvalidError) return { snapshot: null, issues: err.issues, tests: null };
    throw err;
  }
  return { snapshot, issues: [], tests: runPolicyTests({ documents: sources, roles: o.roles }, o.tests) };
}

/** Like {@link checkPolicy}, but throws PolicyInvalidError or PolicyTestsFailedError. */
export function assertPolicyPasses(o: Parameters<typeof checkPolicy>[0]): PolicySnapshot {
  const r = checkPolicy(o);
  if (!r.snapshot) throw new PolicyInvalidError(r.issues);
  if (r.tests && !r.tests.ok) throw new PolicyTestsFailedError(r.tests);
  return r.snapshot;
}
