/**
 * Dual control of policy pushes. The policy's test files are the gate every
 * push must pass: a push that changes or removes a test file could weaken
 * that gate, and together with rule changes (or in a later rules-only push)
 * widen access that the tests were written to forbid. Such a push waits for
 * a second administrator with fresh MFA, whether or not it also changes
 * rules; the issue names the same-push case, and holding test-only
 * weakening too closes the two-push way around it. A push that only adds
 * test files (a stronger gate), or changes only rules, behaves as before.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { diffPolicies } from '../policy/diff.ts';
import { policyDigest, type PolicyFiles, type PolicyVersion } from '../policy/store.ts';
import { holdChange, type ChangeDeps } from './deps.ts';
import type { PendingChange } from './store.ts';

/** Test files of `base` that `tests` changes or removes. */
function weakenedTests(base: PolicyFiles, tests: PolicyFiles): { changed: string[]; removed: string[] } {
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [name, text] of Object.entries(base)) {
    if (!Object.hasOwn(tests, name)) removed.push(name);
    else if (tests[name] !== text) changed.push(name);
  }
  return { changed: changed.sort(), removed: removed.sort() };
}

/**
 * Holds the push when it changes or removes test files; returns undefined
 * when it may go through the ordinary push. Called only for a candidate
 * that already compiled and passed its tests in the checking worker (the
 * push refuses and audits one that does not), so nothing is evaluated here.
 */
export async function holdPolicyPush(
  deps: ChangeDeps,
  o: { auth: AuthContext; meta: RequestMeta; base: PolicyVersion; documents: PolicyFiles; tests: PolicyFiles; comment?: string | undefined; rollbackOf?: number | undefined; type: string },
): Promise<PendingChange | undefined> {
  const weakened = weakenedTests(o.base.tests, o.tests);
  if (weakened.changed.length === 0 && weakened.removed.length === 0) return undefined;
  const diff = diffPolicies(o.base, { documents: o.documents, tests: o.tests });
  return deps.store.begin((t) =>
    holdChange(deps, t, {
      kind: 'policy.update',
      target: 'policy',
      payload: { documents: o.documents, tests: o.tests, comment: o.comment ?? null, rollback_of: o.rollbackOf ?? null, type: o.type },
      before: { version: o.base.version, digest: o.base.digest },
      after: { digest: policyDigest(o.documents, o.tests), changed_rules: diff.changed_rules, tests_changed: weakened.changed, tests_removed: weakened.removed, diff },
      base: `policy:${o.base.version}`,
      reasons: ['policy-tests-changed'],
      comment: o.comment,
      actorId: o.auth.principalId,
      meta: o.meta,
    }),
  );
}
