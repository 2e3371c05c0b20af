/**
 * Approving or denying someone else's access request. An approver holds an
 * approving role (by policy) for the request's scope, is neither the
 * requester, nor one of the requester's own services, nor someone who
 * received the requester's enrollment secret, and has stepped up
 * with MFA (the route demands it). Each approver counts once, however many
 * times or concurrently they approve, and only while they still hold an
 * approving role; the grant is created when enough distinct approvers in
 * force have approved, starting at the requested time. A request past its
 * expiry can no longer be decided. Someone who may not see the request
 * (visibility.ts) is answered as if it did not exist. Each change commits
 * with its audit event.
 */
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import { approvalsInForce } from './approvalsInForce.ts';
import { assertJustified, assertPerson, holdsRoleIn, resolveScope, type Actor, type GrantDeps } from './deps.ts';
import { grantNotice, requestNotice } from './notices.ts';
import { expiryTrace } from './requestExpiry.ts';
import type { AccessRequest, DiscountedApproval, Grant } from './store.ts';
import { mayViewRequest } from './visibility.ts';

const lapsed = (r: AccessRequest) => new ConflictError(`The request expired at ${r.expires_at}, unapproved.`, { status: 'expired' });

async function assertMayReview(deps: GrantDeps, actor: Actor, request: AccessRequest, action: string): Promise<void> {
  await assertPerson(deps, actor);
  const me = actor.auth.principalId;
  const refuse = async (why: string) => {
    await deps.audit.record({ type: `access_request.${action}`, outcome: 'failure', actorId: me, subjectId: request.requester_id, meta: actor.meta, details: { request_id: request.id, reason: why } });
    return new ForbiddenError(`You may not ${action === 'approve' ? 'approve' : 'deny'} this request: ${why}.`, { requestId: request.id, why });
  };
  if (me === request.requester_id) throw await refuse('it is your own request');
  // Whoever received the requester's enrollment secret could be the requester ("no one alone", docs/security-model.md).
  if ((await deps.store.secretHoldersOf(request.requester_id, deps.clock.now())).includes(me)) throw await refuse("you received the requester's enrollment secret");
  const mine = await deps.catalog.getPrincipal(me);
  if (mine.sponsor_id === request.requester_id) throw await refuse("you act for the requester (their service)");
  const limit = deps.policy.current().accessLimits.get(request.role_id);
  if (!limit) throw await refuse(`role ${request.role_id} is no longer requestable`);
  const scope = await resolveScope(deps, { project: request.project_id, dataset: request.dataset_id });
  if (!(await holdsRoleIn(deps, me, limit.approverRoles, scope.project))) throw await refuse(`you hold none of the approving roles (${limit.approverRoles.join(', ')}) for project ${scope.project}`);
}

/** What an approval did. */
export interface ApprovalResult {
  request: AccessRequest;
  /** False when this approver had already approved: it counted once. */
  counted: boolean;
  grant: Grant | null;
  /** Recorded approvals that no longer count, and why. */
  discounted: DiscountedApproval[];
}

/** Approves a request. */
export async function approveRequest(deps: GrantDeps, actor: Actor, requestId: string, comment: string | undefined): Promise<ApprovalResult> {
  const request = await deps.store.getRequest(requestId);
  // Not yours to see answers the same as not there, before any refusal that would confirm it exists.
  if (!request || !(await mayViewRequest(deps, actor.auth, request))) throw new NotFoundError(`Access request ${requestId}`);
  await assertMayReview(deps, actor, request, 'approve');
  const at = deps.clock.now();
  const me = actor.auth.principalId;
  const outcome = await deps.store.approve(
    { requestId, approverId: me, comment: comment ?? null, at },
    approvalsInForce(deps),
    (r) => {
      // Active from the requested start (or now, if that has passed), for the requested duration.
      const start = Math.max(at.getTime(), r.starts_at ? Date.parse(r.starts_at) : 0);
      const notBefore = new Date(Math.floor(start / 1000) * 1000);
      return {
        id: deps.ids(),
        principalId: r.requester_id,
        roleId: r.role_id,
        projectId: r.project_id,
        datasetId: r.dataset_id,
        notBefore,
        expiresAt: new Date(notBefore.getTime() + r.duration_seconds * 1000),
        breakGlass: false,
        requestId: r.id,
        justification: r.justification,
        createdBy: me,
      };
    },
    ({ request: r, grant, counted, discounted }) => ({
      notices: grant ? [requestNotice('access_request.approved', r, { grant })] : counted ? [requestNotice('access_request.approval_recorded', r)] : [],
      events: [
        {
          type: grant ? 'access_request.approved' : 'access_request.approval_recorded',
          outcome: 'success',
          actorId: me,
          subjectId: r.requester_id,
          meta: actor.meta,
          details: {
            request_id: r.id,
            counted,
            approvals: r.approvals.length - discounted.length,
            approvals_required: r.approvals_required,
            // Approvals on record that no longer count (their approver lost the role or was disabled), and why.
            discounted,
            grant_id: grant?.id ?? null,
          },
        },
      ],
    }),
    expiryTrace,
  );
  deps.kick();
  if (outcome.kind === 'expired' || outcome.request.status === 'expired') throw lapsed(outcome.request);
  if (outcome.kind === 'not-pending') throw new ConflictError(`The request is ${outcome.request.status}, not pending.`, { status: outcome.request.status });
  return { request: outcome.request, counted: outcome.counted, grant: outcome.grant, discounted: outcome.discounted };
}

/** The conflict for a request that could not be closed: no longer pending, or lapsed. */
async function notPending(deps: GrantDeps, requestId: string): Promise<ConflictError> {
  deps.kick();
  const now = await deps.store.getRequest(requestId);
  return now?.status === 'expired' ? lapsed(now) : new ConflictError(`The request is ${now?.status}, not pending.`, { status: now?.status });
}

/** Denies a request, with a reason. */
export async function denyRequest(deps: GrantDeps, actor: Actor, requestId: string, reason: string): Promise<AccessRequest> {
  const request = await deps.store.getRequest(requestId);
  if (!request || !(await mayViewRequest(deps, actor.auth, request))) throw new NotFoundError(`Access request ${requestId}`);
  await assertMayReview(deps, actor, request, 'deny');
  const why = assertJustified(deps, reason, 'body.reason');
  const closed = await deps.store.closeRequest(
    { requestId, status: 'denied', by: actor.auth.principalId, reason: why, at: deps.clock.now() },
    (r) => ({
      notices: [requestNotice('access_request.denied', r)],
      events: [{ type: 'access_request.denied', outcome: 'success', actorId: actor.auth.principalId, subjectId: r.requester_id, meta: actor.meta, details: { request_id: requestId, reason: why } }],
    }),
    expiryTrace,
  );
  if (!closed) throw await notPending(deps, requestId);
  deps.kick();
  return closed;
}

/** The requester withdraws a pending request. */
export async function cancelRequest(deps: GrantDeps, actor: Actor, requestId: string): Promise<AccessRequest> {
  const request = await deps.store.getRequest(requestId);
  if (!request || request.requester_id !== actor.auth.principalId) throw new NotFoundError(`Access request ${requestId}`);
  const closed = await deps.store.closeRequest(
    { requestId, status: 'cancelled', by: actor.auth.principalId, reason: null, at: deps.clock.now() },
    (r) => ({
      notices: [requestNotice('access_request.cancelled', r)],
      events: [{ type: 'access_request.cancelled', outcome: 'success', actorId: actor.auth.principalId, subjectId: actor.auth.principalId, meta: actor.meta, details: { request_id: requestId } }],
    }),
    expiryTrace,
  );
  if (!closed) throw await notPending(deps, requestId);
  deps.kick();
  return closed;
}

/**
 * Revokes a grant at once. Allowed to its holder, to holders of an approving
 * role for its scope, to security reviewers and to administrators.
 */
export async function revokeGrant(deps: GrantDeps, actor: Actor, grantId: string, reason: string): Promise<Grant> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant) throw new NotFoundError(`Grant ${grantId}`);
  const me = actor.auth.principalId;
  let allowed = me === grant.principal_id || actor.auth.permissions.has('access:review') || actor.auth.permissions.has('grants:revoke');
  if (!allowed) {
    const limit = deps.policy.current().accessLimits.get(grant.role_id);
    const scope = await resolveScope(deps, { project: grant.project_id, dataset: grant.dataset_id });
    allowed = Boolean(limit && (await holdsRoleIn(deps, me, limit.approverRoles, scope.project)));
  }
  if (!allowed) {
    await deps.audit.record({ type: 'grant.revoked', outcome: 'failure', actorId: me, subjectId: grant.principal_id, meta: actor.meta, details: { grant_id: grantId, reason: 'not allowed' } });
    // Not yours to revoke looks the same as not there: the answer does not confirm that the grant exists.
    throw new NotFoundError(`Grant ${grantId}`);
  }
  const why = assertJustified(deps, reason, 'body.reason');
  const revoked = await deps.store.revokeGrant({ grantId, by: me, reason: why, at: deps.clock.now() }, (g) => ({
    notices: [grantNotice('grant.revoked', g)],
    events: [{ type: 'grant.revoked', outcome: 'success', actorId: me, subjectId: g.principal_id, meta: actor.meta, details: { grant_id: grantId, reason: why, break_glass: g.break_glass } }],
  }));
  if (!revoked) throw new ConflictError('The grant is already revoked.');
  deps.kick();
  return revoked;
}
