/**
 * What counts as privilege for dual control ("no one alone", docs/security-model.md):
 * which management permissions are administrative, which roles confer them,
 * and which principals hold such roles. Pure functions over role ids; the
 * role graph itself is read by the change store.
 */
import { ROLE_PERMISSIONS, type Permission } from '../auth/context.ts';
import type { PolicySnapshot } from '../engine/snapshot.ts';

/**
 * Management permissions that change something, read the logs or decide
 * over someone else's access. Every permission but two: `catalog:read`
 * (reads names and schemas, never data, logs or secrets) and `pdp:check`
 * (the enforcement point's only permission: asks for decisions, changes
 * nothing). `policy:read` counts because a simulation replays logged
 * requests, i.e. reads what the decision log holds.
 */
export const ADMINISTRATIVE_PERMISSIONS: readonly Permission[] = [
  'catalog:write',
  'roles:assign',
  'policy:write',
  'policy:read',
  'keys:rotate',
  'audit:read',
  'access:review',
  'grants:revoke',
];

/**
 * The roles that are privileged in themselves: the built-in roles holding
 * an administrative permission (system-administrator, security-reviewer),
 * and every role the live policy names as an approver of just-in-time
 * access (and the shipped `approver` role in any case). A role is
 * privileged when it is, or inherits, one of these.
 */
export function privilegedBaseRoles(policy: PolicySnapshot): Set<string> {
  // The shipped approver role counts even before a policy is loaded (fail closed).
  const out = new Set<string>(['approver']);
  for (const [role, perms] of Object.entries(ROLE_PERMISSIONS)) if (perms.some((p) => ADMINISTRATIVE_PERMISSIONS.includes(p))) out.add(role);
  for (const limit of policy.accessLimits.values()) for (const r of limit.approverRoles) out.add(r);
  return out;
}

/** The first privileged role among `roles` (a role with everything it inherits), or undefined. */
export function privilegedAmong(roles: Iterable<string>, base: ReadonlySet<string>): string | undefined {
  for (const r of roles) if (base.has(r)) return r;
  return undefined;
}

/** The permission whose holders may approve or reject a change of this kind. */
export function approvingPermission(kind: ChangeKind): Permission {
  if (kind === 'principal.recover') return 'catalog:write';
  return kind === 'policy.update' ? 'policy:write' : 'roles:assign';
}

/** The kinds of change that can wait for a second administrator. */
export type ChangeKind = 'role.update' | 'role.assign' | 'role.unassign' | 'policy.update' | 'principal.recover';

/** Why a change waits (stable strings, shown in the API and the audit log). */
export type HoldReason =
  /** A new enrollment secret for someone who has enrolled: whoever holds it can take over the account. */
  | 'account-recovery'
  /** The proposer received the assignee's enrollment secret (live, or the one they enrolled with): they could be that person. */
  | 'holds-their-secret'
  /** The role is held (directly or by inheritance, in any scope) by the proposer. */
  | 'proposer-holds-role'
  /** The role is held by someone with an administrative permission or an approving role. */
  | 'held-by-administrator'
  /** After the edit the role confers an administrative permission or an approving role. */
  | 'confers-administrative-role'
  /** The assigned role is, or inherits, an administrative, approver or reviewer role. */
  | 'administrative-role'
  /** Removing one of your own roles can lift a deny rule that applies through it. */
  | 'own-assignment'
  /** The push changes or removes policy test files (the gate of every later push). */
  | 'policy-tests-changed';
