/**
 * Revokes a service's client credential at once, together with its
 * `client_credential.revoked` audit event, in one transaction. Revoking
 * only narrows access, so an administrator (catalog:write) or the service's
 * sponsor may do it; on the sponsor's own routes only the sponsor may
 * (`sponsorOnly`), checked under the lock a change of sponsor also takes.
 */
import type { RequestMeta } from '../../audit/log.ts';
import { commitWithEvent } from '../../catalog/commitWithEvent.ts';
import type { CatalogDeps } from '../../catalog/deps.ts';
import { NotFoundError } from '../../errors.ts';
import { assertSponsor } from './assertSponsor.ts';

/** Options of {@link revokeClientCredential}. */
export interface RevokeClientCredentialOptions {
  principalId: string;
  credentialId: string;
  actorId: string;
  meta: RequestMeta;
  /** Refuse (not_sponsor) unless the actor sponsors the service: the sponsor's routes. */
  sponsorOnly?: boolean;
}

/** Revokes the credential (404 when it is not a live credential of this service) and records it; with `sponsorOnly`, NotSponsorError for anyone but the sponsor. */
export async function revokeClientCredential(deps: CatalogDeps, options: RevokeClientCredentialOptions): Promise<void> {
  const now = deps.clock.now();
  await commitWithEvent(deps, async (tx) => {
    if (options.sponsorOnly) assertSponsor(await deps.catalog.withTx(tx).lockPrincipal(options.principalId), options.actorId);
    if (!(await deps.clients.withTx(tx).revoke(options.credentialId, options.principalId, now))) throw new NotFoundError(`Credential ${options.credentialId}`);
    return {
      result: undefined,
      events: [{ type: 'client_credential.revoked', outcome: 'success', actorId: options.actorId, subjectId: options.principalId, meta: options.meta, details: { credential_id: options.credentialId } }],
    };
  });
}
