/**
 * The names of the people an access request mentions: its requester, its
 * approvers and whoever decided it. Whoever may see a request sees these ids
 * already; the names let an approver know who is asking (approvers need not
 * hold `catalog:read`, so they could not look the ids up themselves). An id
 * no longer in the catalog is left out rather than failing the read.
 */
import { NotFoundError } from '../errors.ts';
import type { GrantDeps } from './deps.ts';
import type { AccessRequest } from './store.ts';

/** id → principal name, for every principal the requests mention (and `also`: e.g. who revoked their grant). */
export async function namesOf(deps: Pick<GrantDeps, 'catalog'>, requests: readonly AccessRequest[], also: readonly (string | null)[] = []): Promise<Record<string, string>> {
  const ids = new Set<string>();
  for (const id of also) if (id) ids.add(id);
  for (const r of requests) {
    ids.add(r.requester_id);
    for (const a of r.approvals) ids.add(a.approver_id);
    if (r.decided_by) ids.add(r.decided_by);
  }
  const found = await Promise.all(
    [...ids].map((id) =>
      deps.catalog.getPrincipal(id).then(
        (p) => [id, p.name] as const,
        (err: unknown) => {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        },
      ),
    ),
  );
  return Object.fromEntries(found.filter((x) => x !== undefined));
}
