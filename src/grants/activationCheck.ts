/**
 * The judgement a request's grant gets when it takes effect (at its
 * scheduled start, or on the notifier's first pass after approval): its
 * approvals must still be in force. A grant whose approvers have since lost
 * the approving role (or were disabled) below the required count is revoked
 * instead of announced, with a `grant.revoked` audit event (actor: Custos)
 * and notification, in the same transaction.
 */
import { approvalsInForce } from './approvalsInForce.ts';
import type { GrantDeps } from './deps.ts';
import { grantNotice } from './notices.ts';
import type { Activation } from './store.ts';

/** The reason recorded on such a revocation. */
export const LAPSED_APPROVALS = 'approvals no longer in force at activation';

/** How the lifecycle pass judges a grant as it activates. */
export function activationCheck(deps: Pick<GrantDeps, 'policy'>): Activation {
  return {
    check: approvalsInForce(deps),
    revoked: (g, { request, discounted }) => ({
      notices: [grantNotice('grant.revoked', g, { reason: LAPSED_APPROVALS, discounted })],
      events: [
        {
          type: 'grant.revoked',
          outcome: 'success',
          actorId: null,
          subjectId: g.principal_id,
          details: { grant_id: g.id, request_id: request.id, reason: LAPSED_APPROVALS, approvals_required: request.approvals_required, discounted, break_glass: false },
        },
      ],
    }),
  };
}
