/**
 * Revoking the grant an approved request produced, named by the request
 * (POST /v1/access-requests/:id/revoke): the request must be visible to the
 * caller (visibility.ts), it must have produced a grant, and the caller must
 * be allowed to revoke that grant (revokeGrant, which audits a refusal).
 */
import { NotFoundError } from '../errors.ts';
import type { Actor, GrantDeps } from './deps.ts';
import { revokeGrant } from './reviewRequest.ts';
import type { AccessRequest } from './store.ts';
import { loadVisibleRequest } from './visibility.ts';

/** Revokes the request's grant; returns the request as it is now. NotFoundError: no such request (or not visible), or no grant. */
export async function revokeRequestGrant(deps: GrantDeps, actor: Actor, requestId: string, reason: string): Promise<AccessRequest> {
  const r = await loadVisibleRequest(deps, actor.auth, requestId);
  if (!r.grant_id) throw new NotFoundError(`Grant of access request ${requestId}`);
  await revokeGrant(deps, actor, r.grant_id, reason);
  return (await deps.store.getRequest(requestId))!;
}
