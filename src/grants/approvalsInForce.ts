/**
 * Which recorded approvals of a request still count. An approval is a
 * person's judgement made under a role they held then; once they lose the
 * approving role for the request's scope (or are disabled), their approval
 * no longer carries that authority, so it does not count when the request
 * is decided (HIPAA §164.308(a)(4)(ii)(B): access is granted through a
 * person authorised to grant it, judged when it takes effect).
 */
import { assignmentsInclude, type GrantDeps, type Scope } from './deps.ts';
import type { AccessRequest, ApprovalCheck, ApproverFacts, DiscountedApproval } from './store.ts';

/**
 * The check for requests in `scope` (resolved by the caller, before any
 * transaction): splits approvals into those that count now and those that
 * no longer do, with the reason.
 */
export function approvalsInForce(deps: GrantDeps, scope: Scope): ApprovalCheck {
  return async (r: AccessRequest, read: ApproverFacts) => {
    const counting: string[] = [];
    const discounted: DiscountedApproval[] = [];
    const limit = deps.policy.current().accessLimits.get(r.role_id);
    for (const a of r.approvals) {
      if (!limit) {
        // The role is no longer requestable: no approval of it carries any authority.
        discounted.push({ approver_id: a.approver_id, reason: `role ${r.role_id} is no longer requestable` });
      } else if ((await read.status(a.approver_id)) !== 'active') {
        discounted.push({ approver_id: a.approver_id, reason: 'the approver is no longer active' });
      } else if (!assignmentsInclude(deps, await read.standingRoles(a.approver_id), limit.approverRoles, scope.project)) {
        discounted.push({ approver_id: a.approver_id, reason: `the approver no longer holds an approving role (${limit.approverRoles.join(', ')}) for project ${scope.project}` });
      } else {
        counting.push(a.approver_id);
      }
    }
    return { counting, discounted };
  };
}
