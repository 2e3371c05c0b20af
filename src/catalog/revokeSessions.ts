/**
 * Ends every session of a principal at once, together with its
 * `session.revoked_all` audit event, in one transaction.
 */
import type { RequestMeta } from '../audit/log.ts';
import { commitWithEvent } from './commitWithEvent.ts';
import type { CatalogDeps } from './deps.ts';

/** Options of {@link revokeSessions}. */
export interface RevokeSessionsOptions {
  principalId: string;
  actorId: string;
  meta: RequestMeta;
}

/** Revokes the sessions and records how many; both commit or neither does. */
export async function revokeSessions(deps: CatalogDeps, options: RevokeSessionsOptions): Promise<{ revoked: number }> {
  const now = deps.clock.now();
  return commitWithEvent(deps, async (tx) => {
    await deps.catalog.withTx(tx).getPrincipal(options.principalId);
    const revoked = await deps.store.within(tx).revokeAllSessions(options.principalId, now);
    return {
      result: { revoked },
      events: [{ type: 'session.revoked_all', outcome: 'success', actorId: options.actorId, subjectId: options.principalId, meta: options.meta, details: { revoked } }],
    };
  });
}
