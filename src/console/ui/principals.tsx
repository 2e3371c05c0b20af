/**
 * Principals by id, for every area: each id is read once per tab (GET
 * /v1/principals/{id}, which needs `catalog:read`) and the answer shared, so
 * a page naming the same person in many rows asks once. An id that cannot be
 * read resolves to undefined and is shown as the id.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import type { Principal } from '../api/types.ts';
import { Link } from '../router.tsx';

const known = new Map<string, Promise<Principal | undefined>>();

/** The principal behind an id, once per tab; undefined when it cannot be read. */
export function principalOf(id: string): Promise<Principal | undefined> {
  let p = known.get(id);
  if (!p) {
    p = api<Principal>('GET', `/v1/principals/${encodeURIComponent(id)}`).catch(() => undefined);
    known.set(id, p);
  }
  return p;
}

/** Remembers principals already read in a list, so their names need no call. */
export function rememberPrincipals(ps: Principal[]): void {
  for (const p of ps) if (!known.has(p.id)) known.set(p.id, Promise.resolve(p));
}

/** Forgets a principal (after an edit of it). */
export const forgetPrincipal = (id: string) => void known.delete(id);

/** The principal behind an id, once it is known. */
export function usePrincipal(id: string | null | undefined): Principal | undefined {
  const [p, setP] = useState<Principal>();
  useEffect(() => {
    let live = true;
    if (id) void principalOf(id).then((x) => live && setP(x));
    return () => void (live = false);
  }, [id]);
  return p;
}

/**
 * A principal by name: linked to its administration page (`link`), or as
 * text with the id on hover. The id stands in until the name is known, or
 * when it cannot be read.
 */
export function PrincipalName({ id, link = false }: { id: string | null | undefined; link?: boolean }) {
  const p = usePrincipal(id);
  if (!id) return <span>—</span>;
  if (link) return <Link to={`/admin/principals/${id}`}>{p ? p.name : id}</Link>;
  return <span title={id}>{p ? p.name : <code>{id}</code>}</span>;
}
