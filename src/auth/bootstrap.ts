/**
 * The first administrator. Runs only on a database with no active
 * administrator, so it can never be used to mint a second one.
 */
import { ConflictError } from '../errors.ts';
import type { AuthDeps } from './deps.ts';
import { issueEnrollment, type IssuedEnrollment } from './enrollment.ts';

/** The administrator role the bootstrap assigns organisation-wide. */
export const ADMIN_ROLE = 'system-administrator';

/** Result of {@link bootstrapAdmin}; the secret is shown once. */
export interface BootstrapResult {
  principal_id: string;
  username: string;
  enrollment_secret: string;
  expires_at: string;
}

/** Creates the first administrator and a one-time enrollment secret. */
export async function bootstrapAdmin(deps: AuthDeps, options: { username?: string } = {}): Promise<BootstrapResult> {
  if (await deps.catalog.anyActiveHolderOf(ADMIN_ROLE)) throw new ConflictError('An administrator already exists; bootstrap runs only once.');
  const username = options.username ?? 'admin';
  const principal =
    (await deps.catalog.findPrincipalByName(username)) ??
    (await deps.catalog.createPrincipal({ kind: 'user', name: username, display_name: 'First administrator' }));
  await deps.catalog.getRole(ADMIN_ROLE);
  await deps.catalog.assignRole({ principal_id: principal.id, role_id: ADMIN_ROLE, project_id: null }, null);
  const enrollment: IssuedEnrollment = await issueEnrollment(deps, { principalId: principal.id, details: { via: 'bootstrap' } });
  await deps.audit.record({ type: 'bootstrap.admin_created', outcome: 'success', subjectId: principal.id, details: { username, role: ADMIN_ROLE, enrollment_expires_at: enrollment.expires_at } });
  return { principal_id: principal.id, username, enrollment_secret: enrollment.secret, expires_at: enrollment.expires_at };
}
