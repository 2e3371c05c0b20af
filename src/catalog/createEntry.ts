/**
 * Creates a project, vendor or dataset together with its
 * `catalog.<kind>.created` audit event, in one transaction.
 */
import type { RequestMeta } from '../audit/log.ts';
import { commitWithEvent } from './commitWithEvent.ts';
import type { CatalogDeps } from './deps.ts';
import { ENTRY_STORES, type Entries, type EntryKind, type EntryStore } from './entries.ts';

/** Options of {@link createEntry}. */
export interface CreateEntryOptions<K extends EntryKind> {
  kind: K;
  body: Entries[K]['create'];
  actorId: string;
  meta: RequestMeta;
}

/** Creates the entry and records who created what; both commit or neither does. */
export async function createEntry<K extends EntryKind>(deps: CatalogDeps, options: CreateEntryOptions<K>): Promise<Entries[K]['item']> {
  const store: EntryStore<K> = ENTRY_STORES[options.kind];
  return commitWithEvent(deps, async (tx) => {
    const created = await store.create(deps.catalog.withTx(tx), options.body);
    return {
      result: created,
      events: [{ type: `catalog.${options.kind}.created`, outcome: 'success', actorId: options.actorId, meta: options.meta, details: { id: created.id, after: created } }],
    };
  });
}
