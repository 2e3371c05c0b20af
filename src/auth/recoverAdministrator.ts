/**
 * Host-side recovery of an administrator (`custos admin recover USERNAME`):
 * when no administrator can sign in any more (the first administrator's
 * enrollment secret expired unused, or every administrator lost their
 * factors), the host operator issues a fresh enrollment secret. Redeeming it
 * follows the recovery rules of redeemEnrollment.ts: every factor, session
 * and other secret of the account dies.
 *
 * Why it is not a back door: it runs only on the host, with the database
 * owner's access the operator already has; it refuses while another
 * administrator can still sign in (they issue secrets over the API, with
 * step-up, never for themselves); it is audited (actor null, via 'cli', the
 * OS user) and announced on the webhook in the transaction that issues the
 * secret (HIPAA §164.312(a)(2)(ii) emergency access procedure, §164.312(b)).
 */
import { ConflictError, NotFoundError } from '../errors.ts';
import { ADMIN_ROLE } from './bootstrap.ts';
import type { AuthDeps } from './deps.ts';
import { issueEnrollment, type IssuedEnrollment } from './enrollment.ts';

/** The webhook event a host-side administrator recovery sends. */
export const ADMIN_RECOVERY_EVENT = 'admin.recovery_issued';

/** Options of {@link recoverAdministrator}. */
export interface RecoverAdministratorOptions {
  username: string;
  /** The operating-system account that ran the command (recorded). */
  osUser: string;
  /** The host the command ran on (recorded). */
  host: string;
}

/** The new secret (shown once) and whom it is for. */
export interface RecoveredAdministrator extends IssuedEnrollment {
  principal_id: string;
  username: string;
}

/** Issues a recovery enrollment secret for an administrator when no administrator can sign in. */
export async function recoverAdministrator(deps: AuthDeps, options: RecoverAdministratorOptions): Promise<RecoveredAdministrator> {
  const username = options.username.toLowerCase();
  const via = { via: 'cli', os_user: options.osUser, host: options.host };
  const refuse = async (reason: string, subjectId: string | null) =>
    deps.audit.record({ type: 'admin.recovery_issued', outcome: 'failure', actorId: null, subjectId, details: { ...via, username, reason } });
  const principal = await deps.catalog.findPrincipalByName(username);
  if (!principal || principal.kind !== 'user' || principal.status !== 'active') {
    await refuse('no such active person', principal?.id ?? null);
    throw new NotFoundError(`Active person ${username}`);
  }
  const facts = await deps.store.roleHoldersWithFactors(principal.id, ADMIN_ROLE);
  if (!facts.holds) {
    await refuse('not an administrator', principal.id);
    throw new ConflictError(`${username} is not an administrator; host-side recovery is for administrators only.`);
  }
  if (facts.othersWithFactors > 0) {
    await refuse('another administrator can sign in', principal.id);
    throw new ConflictError(
      `${facts.othersWithFactors} other administrator(s) can still sign in: one of them issues the secret (POST /v1/principals/{id}/enrollment).`,
    );
  }
  const now = deps.clock.now();
  const issued = await deps.store.transaction(async (s, tx) => {
    const e = await issueEnrollment(deps, { principalId: principal.id, tx, actorId: null, details: { ...via, reason: 'administrator recovery' } });
    await deps.audit.recordIn(tx, { type: 'admin.recovery_issued', outcome: 'success', actorId: null, subjectId: principal.id, details: { ...via, username, expires_at: e.expires_at } });
    await s.queueNotification({ id: deps.ids(), event: ADMIN_RECOVERY_EVENT, at: now, data: { principal_id: principal.id, username, ...via, expires_at: e.expires_at } });
    return e;
  });
  return { principal_id: principal.id, username, ...issued };
}
