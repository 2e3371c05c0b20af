/**
 * Names for ids. The reach API speaks in principal ids; people read names.
 * With `catalog:read` the console looks each id up once (GET
 * /v1/principals/{id}) and keeps the answer for the tab's life. Access
 * requests carry the names they mention (`names`), so approvers, who need
 * not read the catalog, see who asks. Otherwise the id is what there is, and
 * the page says "you" for the viewer.
 *
 * Pickers load the catalog list a page at a time (GET /v1/principals,
 * /v1/datasets; 200 per page) and search it here, in the browser: the
 * principals list has no name filter to ask the server with.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import type { Page } from '../../ui/Paged.tsx';
import type { Principal } from '../../api/types.ts';
import { principalOf } from '../../ui/principals.tsx';

/** Names for the ids (when `lookUp`), filled in as the answers arrive. */
export function usePrincipals(ids: string[], lookUp: boolean): Map<string, Principal> {
  const [found, setFound] = useState(() => new Map<string, Principal>());
  const key = [...new Set(ids)].sort().join(',');
  useEffect(() => {
    if (!lookUp || !key) return;
    let live = true;
    void Promise.all(key.split(',').map(async (id) => [id, await principalOf(id)] as const)).then((pairs) => {
      if (!live) return;
      const m = new Map<string, Principal>();
      for (const [id, p] of pairs) if (p) m.set(id, p);
      setFound(m);
    });
    return () => void (live = false);
  }, [key, lookUp]);
  return found;
}

/** How a principal is named on a page: "you", the display name and name, a name the API gave, or the id. */
export function nameOf(id: string | null, known: Map<string, Principal>, me: string, given?: Record<string, string>): string {
  if (!id) return 'Custos';
  if (id === me) return 'you';
  const p = known.get(id);
  if (!p) return given?.[id] ?? id;
  return p.display_name && p.display_name !== p.name ? `${p.display_name} (${p.name})` : p.name;
}

/** Every item of a keyset-paged list, up to `max` (a picker's search runs over them). */
export async function loadAll<T>(path: string, signal: AbortSignal, max = 5_000): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await api<Page<T>>('GET', path, { query: { limit: 200, cursor }, signal });
    items.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && items.length < max);
  return { items, complete: !cursor };
}
