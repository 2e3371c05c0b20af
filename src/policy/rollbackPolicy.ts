/**
 * A rollback (POST /v1/policy/rollback): a new version whose content equals
 * an earlier one's. Like an edit it names, in If-Match, the version it
 * replaces, so it never undoes an edit made since its author looked; a
 * missing If-Match is 428 precondition_required (RFC 6585 §3), a stale one
 * 409, both audited. The earlier content passes the same gate as any push
 * (it may no longer compile against today's role graph) and waits for a
 * second administrator when it changes or removes test files.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { latestVersion, type PolicyDeps } from './deps.ts';
import { ifMatchForAudit, preconditionError } from './ifMatch.ts';
import { pushPolicy, recordRefusal, type PushPolicyResult } from './pushPolicy.ts';

/** Options of {@link rollbackPolicy}. */
export interface RollbackPolicyOptions {
  auth: AuthContext;
  meta: RequestMeta;
  /** The If-Match header as received. */
  ifMatch: string | undefined;
  /** The version whose content to restore. */
  version: number;
  /** Default: `rollback to version <n>`. */
  comment?: string | undefined;
}

/** Pushes the earlier version's content when If-Match names the latest; throws after auditing a refusal (NotFoundError for no such version). */
export async function rollbackPolicy(deps: PolicyDeps, o: RollbackPolicyOptions): Promise<PushPolicyResult> {
  const base = await latestVersion(deps.store);
  const refused = preconditionError({ header: o.ifMatch, current: base, missing: 'required', what: 'rollback' });
  if (refused) {
    await recordRefusal(deps, {
      auth: o.auth,
      meta: o.meta,
      type: 'policy.rolled_back',
      details: { reason: 'precondition', before: { version: base.version, digest: base.digest }, if_match: ifMatchForAudit(o.ifMatch), rollback_of: o.version },
    });
    throw refused;
  }
  const target = await deps.store.get(o.version);
  return pushPolicy(deps, {
    auth: o.auth,
    meta: o.meta,
    base,
    documents: target.documents,
    tests: target.tests,
    comment: o.comment ?? `rollback to version ${target.version}`,
    rollbackOf: target.version,
    type: 'policy.rolled_back',
  });
}
