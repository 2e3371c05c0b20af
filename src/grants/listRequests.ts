/**
 * A page of access requests, newest first, in one of three views: the
 * caller's own; those the caller may approve now (pending, someone else's,
 * not yet approved by them, in a scope where they hold an approving role);
 * or every request (security reviewers only). Pages are keyed by id (ids
 * sort by creation time); the to-approve view filters a page after reading
 * it, so it may hold fewer items than the limit while more follow.
 */
import type { AuthContext } from '../auth/context.ts';
import type { GrantDeps } from './deps.ts';
import type { AccessRequest } from './store.ts';
import { assertMayListAll, mayViewRequest } from './visibility.ts';

/** Options of {@link listRequests}. */
export interface ListRequestsOptions {
  view: 'mine' | 'to-approve' | 'all';
  /** Ignored by the to-approve view (pending only). */
  status?: AccessRequest['status'] | undefined;
  limit: number;
  /** Requests older than this id. */
  before?: string | undefined;
}

/** A page, and the id the next page starts below (null: no more). */
export interface RequestPage {
  items: AccessRequest[];
  nextBefore: string | null;
}

/** Lists requests the caller may see in the view; ForbiddenError for `all` without `access:review`. */
export async function listRequests(deps: GrantDeps, auth: AuthContext, o: ListRequestsOptions): Promise<RequestPage> {
  if (o.view === 'all') assertMayListAll(auth, 'request');
  const me = auth.principalId;
  const rows = await deps.store.listRequests({
    requesterId: o.view === 'mine' ? me : undefined,
    status: o.view === 'to-approve' ? 'pending' : o.status,
    now: deps.clock.now(),
    limit: o.limit + 1,
    before: o.before,
  });
  const page = rows.slice(0, o.limit);
  const nextBefore = rows.length > o.limit && page.length ? page[page.length - 1]!.id : null;
  if (o.view !== 'to-approve') return { items: page, nextBefore };
  const mayApprove = await Promise.all(page.map(async (r) => r.requester_id !== me && !r.approvals.some((a) => a.approver_id === me) && (await mayViewRequest(deps, auth, r))));
  return { items: page.filter((_, i) => mayApprove[i]), nextBefore };
}
