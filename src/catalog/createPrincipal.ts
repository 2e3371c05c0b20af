/**
 * Creates a person or a service. A new person receives a one-time
 * enrollment secret, shown only in this answer; the principal, the secret
 * and both audit events commit in one transaction.
 */
import type { RequestMeta } from '../audit/log.ts';
import { issueEnrollment, type IssuedEnrollment } from '../auth/enrollment.ts';
import { commitWithEvent } from './commitWithEvent.ts';
import type { CatalogDeps } from './deps.ts';
import type { Principal, PrincipalCreate } from './schemas.ts';

/** Options of {@link createPrincipal}. */
export interface CreatePrincipalOptions {
  body: PrincipalCreate;
  actorId: string;
  meta: RequestMeta;
}

/** The new principal; a person's enrollment secret is here and nowhere else. */
export type CreatedPrincipal = Principal & { enrollment?: IssuedEnrollment };

/**
 * Creates the principal (a service's sponsor must be an active person) and,
 * for a person, their enrollment secret. A service gets no credentials
 * here: only its sponsor can create them (see createClientCredential).
 */
export async function createPrincipal(deps: CatalogDeps, options: CreatePrincipalOptions): Promise<CreatedPrincipal> {
  return commitWithEvent(deps, async (tx) => {
    const p = await deps.catalog.withTx(tx).createPrincipal(options.body);
    const created = { type: 'catalog.principal.created', outcome: 'success' as const, actorId: options.actorId, subjectId: p.id, meta: options.meta, details: { id: p.id, after: p } };
    if (p.kind !== 'user') return { result: p, events: [created] };
    // Records its own `enrollment.issued` event, in this transaction.
    const enrollment = await issueEnrollment(deps, { principalId: p.id, tx, actorId: options.actorId, meta: options.meta });
    return { result: { ...p, enrollment }, events: [created] };
  });
}
