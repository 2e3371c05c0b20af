/**
 * Who is calling, as established by a session, and what administrative
 * permissions they hold. Data-access decisions are the engine's business;
 * these permissions gate Custos's own management API.
 */

/** Administrative permissions of the management API. */
export const PERMISSIONS = ['catalog:read', 'catalog:write', 'roles:assign', 'pdp:check', 'keys:rotate', 'access:review', 'grants:revoke', 'audit:read', 'policy:read', 'policy:write', 'alerts:manage', 'incidents:manage', 'metrics:read'] as const;

/** One administrative permission. */
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Built-in grants of management permissions to the shipped roles. A custom
 * role obtains them by inheriting one of these roles.
 * - system-administrator: runs the catalog (projects, datasets, principals, vendors, roles)
 *   and edits the policy (policy:write, with step-up).
 * - security-reviewer: reads the catalog, every access request and grant, and
 *   closes break-glass reviews; queries and exports the decision log and
 *   audit events and runs the reports (`audit:read`); reads and simulates
 *   the policy; changes nothing else (may revoke a grant).
 *   Reviewers also work the alerts and incidents of monitoring.
 * - enforcement-point: a dataset server or feature store asking for decisions.
 * - metrics-reader: a scraper (Prometheus) reading /metrics with client credentials.
 * Administrators may also ask the decision API ("what if").
 */
export const ROLE_PERMISSIONS: Readonly<Record<string, readonly Permission[]>> = {
  'system-administrator': ['catalog:read', 'catalog:write', 'roles:assign', 'pdp:check', 'keys:rotate', 'grants:revoke', 'policy:read', 'policy:write'],
  'security-reviewer': ['catalog:read', 'access:review', 'audit:read', 'policy:read', 'alerts:manage', 'incidents:manage'],
  'enforcement-point': ['pdp:check'],
  'metrics-reader': ['metrics:read'],
};

/** The authenticated caller of a request. */
export interface AuthContext {
  /** A person's session, or a service authenticated with client credentials. */
  via: 'session' | 'client';
  principalId: string;
  principalName: string;
  /** For a service authenticated with client credentials: its client id. */
  clientId?: string;
  sessionId: string;
  /** 'full' after both factors; 'enrollment' may only set up a first second factor. */
  scope: 'full' | 'enrollment';
  /** Authentication methods references (RFC 8176): pwd, otp, hwk, … */
  amr: string[];
  authTime: Date;
  /** End of the session (absolute). */
  expiresAt: Date;
  /** Last proof of a second factor (login or step-up), for step-up checks. */
  mfaAt: Date | null;
  mfaMethod: 'totp' | 'webauthn' | 'recovery' | null;
  /**
   * A resource server's datasets (clients holding `pdp:check`): introspection
   * and revocation reach only tokens for these. Absent or empty: none.
   */
  servedDatasets?: ReadonlySet<string>;
  /** Organisation-wide roles, with inherited roles expanded. */
  orgRoles: string[];
  permissions: ReadonlySet<Permission>;
}

/** Management permissions implied by a set of (already expanded) roles. */
export function permissionsOf(roles: Iterable<string>): Set<Permission> {
  const out = new Set<Permission>();
  // Own properties only: a role named `constructor` must not reach Object.prototype.
  for (const r of roles) if (Object.hasOwn(ROLE_PERMISSIONS, r)) for (const p of ROLE_PERMISSIONS[r]!) out.add(p);
  return out;
}
