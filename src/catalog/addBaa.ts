/**
 * Records a vendor's business associate agreement (HIPAA §164.504(e))
 * together with its `catalog.baa.created` audit event, in one transaction.
 * Agreements are appended, never edited: a changed agreement is a new record.
 */
import type { RequestMeta } from '../audit/log.ts';
import { commitWithEvent } from './commitWithEvent.ts';
import type { CatalogDeps } from './deps.ts';
import type { Baa, BaaCreate } from './schemas.ts';

/** Options of {@link addBaa}. */
export interface AddBaaOptions {
  vendorId: string;
  body: BaaCreate;
  actorId: string;
  meta: RequestMeta;
}

/** Appends the agreement and its event; both commit or neither does. */
export async function addBaa(deps: CatalogDeps, options: AddBaaOptions): Promise<Baa> {
  return commitWithEvent(deps, async (tx) => {
    const baa = await deps.catalog.withTx(tx).addBaa(options.vendorId, options.body);
    return {
      result: baa,
      events: [{ type: 'catalog.baa.created', outcome: 'success', actorId: options.actorId, meta: options.meta, details: { vendor_id: options.vendorId, after: baa } }],
    };
  });
}
