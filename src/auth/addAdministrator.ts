/**
 * Host-side second administrator (`custos admin add USERNAME`). Dual
 * control needs two administrators, and the first one cannot make a second:
 * an administrative role waits for another administrator's approval, and so
 * does any role for a person whose enrollment secret the first one received.
 * So on a fresh installation the host operator adds administrators until
 * there are two; from then on every further one is added over the API, with
 * a second administrator's approval.
 *
 * Why it is not a back door: it runs only on the host, with the database
 * owner's access the operator already has; it refuses once two
 * administrators exist; the person, the role, the one-time secret, the audit
 * event (actor null, via 'cli', the OS user and host) and the webhook notice
 * commit in one transaction.
 */
import { ConflictError, ValidationError } from '../errors.ts';
import type { CatalogDeps } from '../catalog/deps.ts';
import { ADMIN_ROLE } from './bootstrap.ts';
import { issueEnrollment, type IssuedEnrollment } from './enrollment.ts';

/** The webhook event a host-side administrator addition sends. */
export const ADMIN_ADDED_EVENT = 'admin.added';
/** How many administrators the host may make: enough for dual control, no more. */
export const HOST_ADMIN_LIMIT = 2;

/** The new administrator and their one-time enrollment secret (shown once). */
export interface AddedAdministrator extends IssuedEnrollment {
  principal_id: string;
  username: string;
}

/** Creates an administrator with a one-time enrollment secret while fewer than two exist. */
export async function addAdministrator(deps: CatalogDeps, o: { username: string; displayName?: string | undefined; osUser: string; host: string }): Promise<AddedAdministrator> {
  const username = o.username.toLowerCase();
  const via = { via: 'cli', os_user: o.osUser, host: o.host };
  const refuse = async (reason: string) => deps.audit.record({ type: ADMIN_ADDED_EVENT, outcome: 'failure', actorId: null, details: { ...via, username, reason } });
  if (await deps.catalog.findPrincipalByName(username)) {
    await refuse('name taken');
    throw new ConflictError(`A principal named ${username} exists already; choose another name.`);
  }
  const now = deps.clock.now();
  const added = await deps.store.transaction(async (s, tx) => {
    // Two commands at once cannot both see one administrator and make a third.
    await s.lockRole(ADMIN_ROLE);
    const holders = await s.activeRoleHolders(ADMIN_ROLE);
    if (holders === 0) throw new ValidationError('There is no administrator yet: run `custos bootstrap` first.');
    if (holders >= HOST_ADMIN_LIMIT) return { refused: holders };
    const p = await deps.catalog.withTx(tx).createPrincipal({ kind: 'user', name: username, display_name: o.displayName ?? username });
    await deps.catalog.withTx(tx).assignRole({ principal_id: p.id, role_id: ADMIN_ROLE, project_id: null }, null);
    const e = await issueEnrollment(deps, { principalId: p.id, tx, actorId: null, details: { ...via, reason: 'host-side administrator' } });
    await deps.audit.recordIn(tx, { type: ADMIN_ADDED_EVENT, outcome: 'success', actorId: null, subjectId: p.id, details: { ...via, username, role: ADMIN_ROLE, expires_at: e.expires_at } });
    await s.queueNotification({ id: deps.ids(), event: ADMIN_ADDED_EVENT, at: now, data: { principal_id: p.id, username, ...via, expires_at: e.expires_at } });
    return { principal_id: p.id, username, ...e };
  });
  if ('refused' in added) {
    await refuse('two administrators exist');
    throw new ConflictError(`${added.refused} administrators exist: further ones are added over the API, where another administrator approves the role.`);
  }
  return added;
}
