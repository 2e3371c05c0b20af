/**
 * The one way a new policy version comes to be from an edit or a rollback:
 * the candidate passes the gate (it compiles against today's role graph and
 * its own test files pass, checked in a worker), a push that changes or
 * removes test files waits for a second administrator
 * (src/changes/holdPolicyPush.ts), and otherwise the version and its audit
 * event commit in one transaction; this replica then recompiles at once (the
 * others on the NOTIFY of the insert). Every refusal is audited
 * (`<type>_refused`, §164.312(b) audit controls): a candidate that fails the
 * gate, and an edit that lost the race to a concurrent one.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { holdPolicyPush } from '../changes/holdPolicyPush.ts';
import type { PendingChange } from '../changes/store.ts';
import { ConflictError, CustosError } from '../errors.ts';
import { PolicyInvalidError } from './compile.ts';
import { PolicyTestsFailedError } from './checkPolicy.ts';
import type { PolicyDeps } from './deps.ts';
import { diffPolicies } from './diff.ts';
import { roleGraph } from './loadPolicy.ts';
import type { PolicyFiles, PolicyVersion } from './store.ts';

/** The audit event types of a push: an edit or a rollback (refusals add `_refused`). */
export type PushType = 'policy.updated' | 'policy.rolled_back';

/** Options of {@link pushPolicy}. */
export interface PushPolicyOptions {
  auth: AuthContext;
  meta: RequestMeta;
  /** The version the push replaces: it commits only while this is still the latest. */
  base: PolicyVersion;
  documents: PolicyFiles;
  tests: PolicyFiles;
  comment?: string | undefined;
  /** A rollback: the version whose content this push restores. */
  rollbackOf?: number | undefined;
  type: PushType;
}

/** What {@link pushPolicy} did: a new version in force, or a change held for a second administrator. */
export type PushPolicyResult =
  | {
      status: 'applied';
      version: PolicyVersion;
      /** Rule ids added, removed or changed against the base. */
      changedRules: string[];
      /** Whether this replica compiled the new version (false: the last good snapshot still serves; see the log). */
      reloaded: boolean;
      /** The snapshot this replica decides with after the push. */
      liveSnapshot: string;
    }
  | { status: 'pending'; change: PendingChange };

/** Records a refused edit or rollback (on its own: nothing else was written). */
export function recordRefusal(deps: Pick<PolicyDeps, 'audit'>, o: { auth: AuthContext; meta: RequestMeta; type: PushType; details: Record<string, unknown> }): Promise<void> {
  return deps.audit.record({ type: `${o.type}_refused`, outcome: 'failure', actorId: o.auth.principalId, meta: o.meta, details: o.details });
}

/** What a refusal by the gate records besides its code: at most 20 issues or failing cases. */
function gateFindings(err: CustosError): Record<string, unknown> {
  return {
    ...(err instanceof PolicyInvalidError ? { issues: err.issues.slice(0, 20) } : {}),
    ...(err instanceof PolicyTestsFailedError ? { failing_cases: err.report.failures.slice(0, 20).map((f) => `${f.file}: ${f.case ?? '(file)'}`) } : {}),
  };
}

/** Gates, stores and announces a new version (or holds it); throws after auditing a refusal. */
export async function pushPolicy(deps: PolicyDeps, o: PushPolicyOptions): Promise<PushPolicyResult> {
  const before = { version: o.base.version, digest: o.base.digest };
  const rollbackOf = o.rollbackOf ?? null;
  const roles = await roleGraph(deps.catalog);
  try {
    await deps.checker.assertPasses({ documents: o.documents, tests: o.tests, roles });
  } catch (err) {
    // Every refusal the checker reports is recorded: a candidate that does not compile or fails its tests, test files
    // over a cap, a check stopped by its deadline or heap limit, every worker busy. Anything else is a fault, not a refusal.
    if (err instanceof CustosError) await recordRefusal(deps, { auth: o.auth, meta: o.meta, type: o.type, details: { reason: err.code, before, ...gateFindings(err), rollback_of: rollbackOf } });
    throw err;
  }
  // A passing push that changes or removes test files waits for a second administrator.
  const change = await holdPolicyPush(deps.changes, o);
  if (change) return { status: 'pending', change };
  let changedRules: string[] = [];
  let version: PolicyVersion;
  try {
    // The new version and its audit event commit together, or neither does.
    version = await deps.store.create(
      { basedOn: o.base.version, documents: o.documents, tests: o.tests, authorId: o.auth.principalId, comment: o.comment ?? null, rollbackOf, at: deps.clock.now() },
      (tx, v) => {
        changedRules = diffPolicies(o.base, v).changed_rules;
        return deps.audit.recordIn(tx, {
          type: o.type,
          outcome: 'success',
          actorId: o.auth.principalId,
          meta: o.meta,
          details: { before, after: { version: v.version, digest: v.digest }, changed_rules: changedRules, rollback_of: rollbackOf, comment: o.comment ?? null },
        });
      },
    );
  } catch (err) {
    // Another edit of the same base committed first: nothing of this one was written.
    if (err instanceof ConflictError) await recordRefusal(deps, { auth: o.auth, meta: o.meta, type: o.type, details: { reason: 'conflict', before, rollback_of: rollbackOf } });
    throw err;
  }
  // This replica swaps at once; the others on the NOTIFY of the insert.
  const reloaded = await deps.holder.reload();
  return { status: 'applied', version, changedRules, reloaded: reloaded.ok, liveSnapshot: deps.holder.current().version };
}
