/**
 * Changes a principal. What the change implies commits with it, in one
 * transaction with its audit event:
 * - disabling ends every session of the principal at once (re-enabling
 *   later does not revive them; HIPAA §164.312(a)(2)(iii));
 * - a new sponsor revokes the service's client credentials: whoever held
 *   them would otherwise reach data through the new sponsor's access, and
 *   only a sponsor may hold a service's credentials ("no one alone", docs/security-model.md).
 */
import type { RequestMeta } from '../audit/log.ts';
import { ForbiddenError } from '../errors.ts';
import { commitWithEvent } from './commitWithEvent.ts';
import type { CatalogDeps } from './deps.ts';
import type { Principal, PrincipalUpdate } from './schemas.ts';

/** Options of {@link updatePrincipal}. */
export interface UpdatePrincipalOptions {
  id: string;
  body: PrincipalUpdate;
  actorId: string;
  meta: RequestMeta;
}

/** What a principal's own change may not touch: attributes feed policy conditions, status their access. */
const SELF_REFUSED = ['attributes', 'status', 'sponsor_id'] as const;

/**
 * Applies the change and its consequences, and records them; all commit or
 * none does. Nobody changes their own attributes or status: attributes are
 * inputs of policy conditions, so that would widen one's own access
 * (refused, audited).
 */
export async function updatePrincipal(deps: CatalogDeps, options: UpdatePrincipalOptions): Promise<Principal> {
  const now = deps.clock.now();
  const touched = SELF_REFUSED.filter((k) => options.body[k] !== undefined);
  if (options.id === options.actorId && touched.length) {
    await deps.audit.record({ type: 'catalog.principal.updated', outcome: 'failure', actorId: options.actorId, subjectId: options.id, meta: options.meta, details: { reason: 'self-change', fields: touched } });
    throw new ForbiddenError('You cannot change your own attributes or status.');
  }
  return commitWithEvent(deps, async (tx) => {
    const catalog = deps.catalog.withTx(tx);
    // Locked, so a credential created concurrently is either seen and revoked here or refused there.
    const before = await catalog.lockPrincipal(options.id);
    const after = await catalog.updatePrincipal(options.id, options.body);
    const details: Record<string, unknown> = { id: options.id, before, after };
    if (options.body.status === 'disabled') details.sessions_revoked = await deps.store.within(tx).revokeAllSessions(options.id, now);
    if (after.sponsor_id !== before.sponsor_id) details.credentials_revoked = await deps.clients.withTx(tx).revokeAllOf(options.id, now);
    return { result: after, events: [{ type: 'catalog.principal.updated', outcome: 'success', actorId: options.actorId, subjectId: options.id, meta: options.meta, details }] };
  });
}
