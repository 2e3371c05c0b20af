/**
 * Which recorded approvals of a request still count. An approval is a
 * person's judgement made under a role they held then; once they lose the
 * approving role for the request's scope (or are disabled), their approval
 * no longer carries that authority, so it counts neither when the request
 * is decided nor when its grant takes effect (HIPAA §164.308(a)(4)(ii)(B): access is granted through a
 * person authorised to grant it, judged when it takes effect).
 */
import { assignmentsInclude, type GrantDeps } from './deps.ts';
import type { AccessRequest, ApprovalCheck, ApproverFacts, DiscountedApproval } from './store.ts';

/**
 * The check: splits a request's approvals into those that count now and
 * those that no longer do, with the reason. Everything it reads comes
 * through `read` (the caller's transaction, when there is one).
 */
export function approvalsInForce(deps: Pick<GrantDeps, 'policy'>): ApprovalCheck {
  return async (r: AccessRequest, read: ApproverFacts) => {
    const counting: string[] = [];
    const discounted: DiscountedApproval[] = [];
    const limit = deps.policy.current().accessLimits.get(r.role_id);
    const project = await read.projectOf(r);
    for (const a of r.approvals) {
      if (!limit) {
        // The role is no longer requestable: no approval of it carries any authority.
        discounted.push({ approver_id: a.approver_id, reason: `role ${r.role_id} is no longer requestable` });
      } else if ((await read.status(a.approver_id)) !== 'active') {
        discounted.push({ approver_id: a.approver_id, reason: 'the approver is no longer active' });
      } else if (!assignmentsInclude(deps, await read.standingRoles(a.approver_id), limit.approverRoles, project)) {
        discounted.push({ approver_id: a.approver_id, reason: `the approver no longer holds an approving role (${limit.approverRoles.join(', ')}) for project ${project}` });
      } else {
        counting.push(a.approver_id);
      }
    }
    return { counting, discounted };
  };
}
