/**
 * A service's client credentials, never their secrets: for catalog readers
 * (the administrators' view), or, on the sponsor's own routes, for the
 * service's sponsor alone — a credential list is the sponsor's business.
 */
import type { CatalogDeps } from '../../catalog/deps.ts';
import { assertSponsor } from './assertSponsor.ts';

/** One credential as listed. */
export type ListedCredential = Awaited<ReturnType<CatalogDeps['clients']['list']>>[number];

/** Options of {@link listClientCredentials}. */
export interface ListClientCredentialsOptions {
  principalId: string;
  /** Set on the sponsor's routes: refused (not_sponsor) unless this is the service's sponsor. */
  sponsorId?: string | undefined;
}

/** The service's credentials, oldest first; throws NotSponsorError or NotFoundError when asked as a sponsor. */
export async function listClientCredentials(deps: Pick<CatalogDeps, 'catalog' | 'clients'>, o: ListClientCredentialsOptions): Promise<ListedCredential[]> {
  if (o.sponsorId !== undefined) assertSponsor(await deps.catalog.getPrincipal(o.principalId), o.sponsorId);
  return deps.clients.list(o.principalId);
}
