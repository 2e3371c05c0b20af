/**
 * Validation of a candidate policy without saving it (POST
 * /v1/policy/validate): it compiles against today's role graph and runs its
 * test files (or, when it brings none, the live version's), in a worker with
 * a deadline and a heap limit, so a costly candidate never stalls the server.
 */
import type { PolicyCheckSummary } from './checkInWorker.ts';
import { latestVersion, type PolicyDeps } from './deps.ts';
import { roleGraph } from './loadPolicy.ts';
import type { PolicyFiles } from './store.ts';

/** What {@link validateCandidate} found: `valid` when it compiles and every test passes. */
export interface CandidateValidation extends PolicyCheckSummary {
  valid: boolean;
}

/** Checks the candidate; throws only when the check itself is refused (caps, deadline, memory, busy workers). */
export async function validateCandidate(deps: Pick<PolicyDeps, 'store' | 'checker' | 'catalog'>, o: { documents: PolicyFiles; tests?: PolicyFiles | undefined }): Promise<CandidateValidation> {
  const tests = o.tests ?? (await latestVersion(deps.store)).tests;
  const r = await deps.checker.check({ documents: o.documents, tests, roles: await roleGraph(deps.catalog) });
  return { valid: r.compiles && (r.tests?.ok ?? false), compiles: r.compiles, rules: r.rules, issues: r.issues, tests: r.tests };
}
