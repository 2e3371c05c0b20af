/**
 * Resource servers (dataset servers, feature stores: service principals with
 * the enforcement-point permission) are tied to the datasets they serve. A
 * resource server learns about a token only if it is for one of those
 * datasets (RFC 7662 §4: the authorization server may answer each protected
 * resource differently, and tells it nothing about tokens not meant for it).
 * A server with no list serves nothing: fail closed.
 */
import type { AuthContext } from '../auth/context.ts';
import type { Tx } from '../db/client.ts';
import type { TokenClaims } from './verifyToken.ts';

/** Storage of the datasets each resource server serves. */
export interface ResourceServerStore {
  /** Runs `fn` in one transaction (a change commits with its audit event). */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The dataset ids a resource server serves, sorted. */
  served(principalId: string): Promise<string[]>;
  /**
   * Inside `tx`: locks the principal, checks it is a service, replaces its
   * list and returns the list before. Throws NotFoundError / ValidationError.
   */
  replaceIn(tx: Tx, options: { principalId: string; datasets: string[]; by: string }): Promise<{ before: string[] }>;
}

/**
 * Whether the calling resource server serves every dataset the token is
 * for. Our tokens carry one `dataset_access` detail; a token naming no
 * dataset, or one the caller does not serve, is not its business.
 */
export function serves(caller: AuthContext, claims: TokenClaims): boolean {
  const served = caller.servedDatasets;
  const details = claims.authorization_details;
  if (!served || served.size === 0 || !Array.isArray(details) || details.length === 0) return false;
  return details.every((d: unknown) => {
    const dataset = (d as { dataset?: unknown } | null)?.dataset;
    return typeof dataset === 'string' && served.has(dataset);
  });
}
