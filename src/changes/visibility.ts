/**
 * Who may see a change waiting for (or decided by) a second administrator:
 * its proposer, holders of the permission that approves it (`roles:assign`
 * for role changes, `policy:write` for policy pushes, `catalog:write` for
 * recoveries) and security reviewers (`audit:read`). To anyone else it
 * does not exist: a change shows the before and after of someone's access.
 */
import type { AuthContext } from '../auth/context.ts';
import { NotFoundError } from '../errors.ts';
import type { ChangeDeps } from './deps.ts';
import { approvingPermission } from './privilege.ts';
import type { ChangeStatus, PendingChange } from './store.ts';

/** Whether the caller may see the change. */
export function mayViewChange(auth: AuthContext, c: PendingChange): boolean {
  return c.proposer_id === auth.principalId || auth.permissions.has(approvingPermission(c.kind)) || auth.permissions.has('audit:read');
}

/** The change, when the caller may see it; NotFoundError when it does not exist or is not theirs to see. */
export async function loadVisibleChange(deps: Pick<ChangeDeps, 'store'>, auth: AuthContext, id: string): Promise<PendingChange> {
  const c = await deps.store.get(id);
  if (!c || !mayViewChange(auth, c)) throw new NotFoundError(`Change ${id}`);
  return c;
}

/** A page of changes, newest first, without those the caller may not see (so a page may hold fewer than `limit` while more follow). */
export async function listVisibleChanges(
  deps: Pick<ChangeDeps, 'store' | 'clock'>,
  auth: AuthContext,
  q: { limit: number; before?: string | undefined; status?: ChangeStatus | undefined },
): Promise<{ items: PendingChange[]; next_cursor: string | null }> {
  const page = await deps.store.list({ ...q, now: deps.clock.now() });
  return { items: page.items.filter((c) => mayViewChange(auth, c)), next_cursor: page.next_cursor };
}
