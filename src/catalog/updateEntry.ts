/**
 * Updates a project, vendor or dataset together with its
 * `catalog.<kind>.updated` audit event (before and after), in one
 * transaction.
 */
import type { RequestMeta } from '../audit/log.ts';
import { commitWithEvent } from './commitWithEvent.ts';
import type { CatalogDeps } from './deps.ts';
import { ENTRY_STORES, type Entries, type EntryKind, type EntryStore } from './entries.ts';

/** Options of {@link updateEntry}. */
export interface UpdateEntryOptions<K extends EntryKind> {
  kind: K;
  id: string;
  body: Entries[K]['update'];
  actorId: string;
  meta: RequestMeta;
}

/** Applies the update and records the entry before and after it; both commit or neither does. */
export async function updateEntry<K extends EntryKind>(deps: CatalogDeps, options: UpdateEntryOptions<K>): Promise<Entries[K]['item']> {
  const store: EntryStore<K> = ENTRY_STORES[options.kind];
  return commitWithEvent(deps, async (tx) => {
    const catalog = deps.catalog.withTx(tx);
    const before = await store.get(catalog, options.id);
    const after = await store.update(catalog, options.id, options.body);
    return {
      result: after,
      events: [{ type: `catalog.${options.kind}.updated`, outcome: 'success', actorId: options.actorId, meta: options.meta, details: { id: options.id, before, after } }],
    };
  });
}
