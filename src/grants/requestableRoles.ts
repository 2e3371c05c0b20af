/**
 * The roles a person may ask for just in time, as the policy in force says
 * (`access.requests`): for how long at most, how many distinct approvers
 * agree, and which roles approve. What anyone filing a request needs to
 * know before filing it; the policy text itself is for `policy:read`.
 */
import type { GrantDeps } from './deps.ts';

/** One requestable role and its limits. */
export interface RequestableRole {
  role: string;
  max_duration_seconds: number;
  approvals: number;
  approver_roles: string[];
}

/** Every requestable role, by name. */
export function requestableRoles(deps: Pick<GrantDeps, 'policy'>): RequestableRole[] {
  return [...deps.policy.current().accessLimits.values()]
    .map((l) => ({ role: l.role, max_duration_seconds: l.maxSeconds, approvals: l.approvals, approver_roles: [...l.approverRoles] }))
    .sort((a, b) => a.role.localeCompare(b.role));
}
