/**
 * The gate of every policy edit: the candidate compiles against the current
 * role graph, and its own test files pass against it.
 */
import type { PolicySnapshot } from '../engine/snapshot.ts';
import { CustosError } from '../errors.ts';
import { compilePolicy, PolicyInvalidError, type PolicyIssue, type RoleGraphEntry } from './compile.ts';
import type { ConditionLimits } from './conditionCost.ts';
import { PolicyTestsTooLargeError, sizeIssues, type TestFileCaps } from './testFileCaps.ts';
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

/** What {@link checkPolicy} takes. */
export interface CheckPolicyOptions {
  documents: PolicyFiles;
  tests: PolicyFiles;
  roles: readonly RoleGraphEntry[];
  version?: string;
  /** The cost budget of conditions (default: DEFAULT_CONDITION_LIMITS). */
  conditionLimits?: ConditionLimits | undefined;
  /** Caps on the test files (none: trusted local files). */
  testCaps?: TestFileCaps | undefined;
}

/** Compiles the candidate and runs its tests; never throws for an invalid policy (PolicyTestsTooLargeError for files over a cap). */
export function checkPolicy(o: CheckPolicyOptions): CheckPolicyResult {
  // Cheap caps first: oversized test files are refused before the rules are even compiled.
  if (o.testCaps) {
    const over = sizeIssues(o.tests, o.testCaps);
    if (over.length) throw new PolicyTestsTooLargeError(over);
  }
  const sources = sourcesOf(o.documents);
  let snapshot: PolicySnapshot;
  try {
    snapshot = compilePolicy({ documents: sources, roles: o.roles, conditionLimits: o.conditionLimits, ...(o.version ? { version: o.version } : {}) });
  } catch (err) {
    if (err instanceof PolicyInvalidError) return { snapshot: null, issues: err.issues, tests: null };
    throw err;
  }
  return { snapshot, issues: [], tests: runPolicyTests({ documents: sources, roles: o.roles, conditionLimits: o.conditionLimits }, o.tests, o.testCaps) };
}

/** Like {@link checkPolicy}, but throws PolicyInvalidError or PolicyTestsFailedError. */
export function assertPolicyPasses(o: CheckPolicyOptions): PolicySnapshot {
  const r = checkPolicy(o);
  if (!r.snapshot) throw new PolicyInvalidError(r.issues);
  if (r.tests && !r.tests.ok) throw new PolicyTestsFailedError(r.tests);
  return r.snapshot;
}
