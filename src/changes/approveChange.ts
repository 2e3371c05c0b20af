/**
 * A second administrator approves a pending change (dual control, docs/security-model.md;
 * modelled on Teleport's dual authorization and Vault's control groups).
 * Checked at approval, in this order, each refusal audited with its reason:
 * the approver holds the approving permission now (`roles:assign` for role
 * changes, `policy:write` for policy pushes); the change is still pending
 * and not expired (against the server clock); the approver's second factor
 * is fresh (step-up); the approver is not the proposer; the approver does not
 * gain from the change (holds the edited role, or is the one assigned);
 * and the target is unchanged since the proposal. The change, its status
 * and its events commit in one transaction.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import type { IssuedEnrollment } from '../auth/enrollment.ts';
import { assertFreshMfa } from '../auth/sessions/stepUp.ts';
import { ConflictError, ForbiddenError, NotFoundError, StepUpRequiredError } from '../errors.ts';
import { applyChange } from './applyChange.ts';
import { reloadPolicy, type ChangeDeps } from './deps.ts';
import { approvingPermission } from './privilege.ts';
import { expireChange } from './expireChange.ts';
import type { ChangeTx, PendingChange } from './store.ts';

/** Principals who would gain from the change: they may not approve it. */
async function beneficiaries(t: ChangeTx, c: PendingChange, at: Date): Promise<string[]> {
  if (c.kind === 'role.update') return t.holdersOf(c.target, at);
  // Whoever could hold the assignee's account gains from an assignment as much as the assignee.
  if (c.kind === 'role.assign') return [c.target, ...(await t.secretHoldersOf(c.target, at))];
  if (c.kind === 'role.unassign' || c.kind === 'principal.recover') return [c.target];
  return [];
}

/**
 * Approves and applies a pending change; throws (after auditing) when
 * refused or when it fails. An approved recovery returns the new
 * enrollment secret, shown only in this answer.
 */
export async function approveChange(deps: ChangeDeps, o: { auth: AuthContext; meta: RequestMeta; id: string; comment?: string | undefined }): Promise<PendingChange & { enrollment?: IssuedEnrollment }> {
  const actorId = o.auth.principalId;
  const change = await deps.store.get(o.id);
  if (!change) throw new NotFoundError(`Change ${o.id}`);
  const refuse = (reason: string) =>
    deps.audit.record({ type: 'change.approval_refused', outcome: 'failure', actorId, subjectId: change.kind === 'role.assign' || change.kind === 'role.unassign' || change.kind === 'principal.recover' ? change.target : null, meta: o.meta, details: { change_id: change.id, kind: change.kind, reason } });

  const permission = approvingPermission(change.kind);
  if (!o.auth.permissions.has(permission)) {
    await refuse('missing-permission');
    throw new ForbiddenError(`Approving this change needs ${permission}.`);
  }
  if (change.status !== 'pending') {
    await refuse('not-pending');
    throw new ConflictError(`The change is ${change.status}, not pending.`);
  }
  if (await expireChange(deps, { change, meta: o.meta })) {
    await refuse('expired');
    throw new ConflictError('The change expired before anyone approved it.');
  }
  try {
    await assertFreshMfa(deps.auth, o.auth, o.meta, `approve ${change.kind}`);
  } catch (err) {
    if (err instanceof StepUpRequiredError) await refuse('step-up-required');
    throw err;
  }
  if (change.proposer_id === actorId) {
    await refuse('own-change');
    throw new ForbiddenError('You cannot approve your own change: a second administrator must.');
  }

  const now = deps.clock.now();
  const outcome = await deps.store.begin(async (t) => {
    await t.lockRoleGraph();
    const c = await t.lockChange(o.id);
    // Another approver, a rejection or the clock may have decided it since it was read.
    if (!c || c.status !== 'pending' || new Date(c.expires_at).getTime() <= now.getTime()) return { kind: 'refused' as const, reason: 'not-pending' };
    if ((await beneficiaries(t, c, now)).includes(actorId)) return { kind: 'refused' as const, reason: 'own-permissions' };
    const applied = await applyChange(deps, t, c, actorId, o.meta);
    if (!applied.ok) {
      await t.decide(c.id, { status: 'failed', by: actorId, at: now, reason: applied.reason });
      await deps.audit.recordIn(t.tx, { type: 'change.failed', outcome: 'failure', actorId, meta: o.meta, details: { change_id: c.id, kind: c.kind, reason: applied.reason, ...(applied.detail ? { detail: applied.detail } : {}) } });
      return { kind: 'failed' as const, reason: applied.reason };
    }
    const decided = await t.decide(c.id, { status: 'applied', by: actorId, at: now, reason: o.comment ?? null });
    await deps.audit.recordIn(t.tx, { type: 'change.approved', outcome: 'success', actorId, meta: o.meta, details: { change_id: c.id, kind: c.kind, proposed_by: c.proposer_id, comment: o.comment ?? null } });
    await deps.audit.recordIn(t.tx, { type: 'change.applied', outcome: 'success', actorId, meta: o.meta, details: { change_id: c.id, kind: c.kind, target: c.target, before: c.before, after: c.kind === 'policy.update' ? { ...(c.after as object), diff: undefined } : c.after } });
    return { kind: 'applied' as const, decided, reload: applied.reloadPolicy, enrollment: applied.enrollment };
  });

  if (outcome.kind === 'refused') {
    await refuse(outcome.reason);
    if (outcome.reason === 'own-permissions') throw new ForbiddenError('You cannot approve a change that widens your own permissions.');
    throw new ConflictError('The change is no longer pending.');
  }
  if (outcome.kind === 'failed') throw new ConflictError(outcome.reason === 'target-changed' ? 'The target changed since the change was proposed; it was not applied. Propose it again.' : 'The change is no longer valid; it was not applied. Propose it again.');
  if (outcome.reload) await reloadPolicy(deps);
  return outcome.enrollment ? { ...outcome.decided, enrollment: outcome.enrollment } : outcome.decided;
}
