/**
 * An edit of the policy (PUT /v1/policy): the next version, based on the
 * one the editor read. The request names that version by its ETag in
 * If-Match (ifMatch.ts): without it, or with a stale one, the edit is
 * refused (409, as it always was) and the refusal audited, so no edit
 * silently replaces one made since. The rest is the push (pushPolicy.ts).
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { latestVersion, type PolicyDeps } from './deps.ts';
import { ifMatchForAudit, preconditionError } from './ifMatch.ts';
import { pushPolicy, recordRefusal, type PushPolicyResult } from './pushPolicy.ts';
import type { PolicyFiles } from './store.ts';

/** Options of {@link updatePolicy}. */
export interface UpdatePolicyOptions {
  auth: AuthContext;
  meta: RequestMeta;
  /** The If-Match header as received. */
  ifMatch: string | undefined;
  documents: PolicyFiles;
  /** Omitted: keep the current test files. */
  tests?: PolicyFiles | undefined;
  comment?: string | undefined;
}

/** Pushes the edit when If-Match names the latest version; throws after auditing a refusal. */
export async function updatePolicy(deps: PolicyDeps, o: UpdatePolicyOptions): Promise<PushPolicyResult> {
  const base = await latestVersion(deps.store);
  const refused = preconditionError({ header: o.ifMatch, current: base, missing: 'conflict', what: 'edit' });
  if (refused) {
    await recordRefusal(deps, { auth: o.auth, meta: o.meta, type: 'policy.updated', details: { reason: 'precondition', before: { version: base.version, digest: base.digest }, if_match: ifMatchForAudit(o.ifMatch) } });
    throw refused;
  }
  return pushPolicy(deps, { auth: o.auth, meta: o.meta, base, documents: o.documents, tests: o.tests ?? base.tests, comment: o.comment, type: 'policy.updated' });
}
