/**
 * A page of grants, newest first: the caller's own, or everyone's (security
 * reviewers only, refused to anyone else), or — for the break-glass list —
 * everyone's for a reviewer and the caller's own for anyone else.
 */
import type { AuthContext } from '../auth/context.ts';
import type { GrantDeps } from './deps.ts';
import type { Grant, GrantFilter } from './store.ts';
import { assertMayListAll, isReviewer } from './visibility.ts';

/** Options of {@link listGrants}. */
export interface ListGrantsOptions extends Pick<GrantFilter, 'breakGlass' | 'reviewStatus' | 'before'> {
  /** mine: the caller's; all: everyone's (reviewers only); visible: everyone's for a reviewer, else the caller's. */
  view: 'mine' | 'all' | 'visible';
  limit: number;
}

/** A page, and the id the next page starts below (null: no more). */
export interface GrantPage {
  items: Grant[];
  nextBefore: string | null;
}

/** Lists grants in the view; ForbiddenError for `all` without `access:review`. */
export async function listGrants(deps: GrantDeps, auth: AuthContext, o: ListGrantsOptions): Promise<GrantPage> {
  if (o.view === 'all') assertMayListAll(auth, 'grant');
  const everyone = o.view === 'all' || (o.view === 'visible' && isReviewer(auth));
  const rows = await deps.store.listGrants({ principalId: everyone ? undefined : auth.principalId, breakGlass: o.breakGlass, reviewStatus: o.reviewStatus, limit: o.limit + 1, before: o.before });
  const items = rows.slice(0, o.limit);
  return { items, nextBefore: rows.length > o.limit && items.length ? items[items.length - 1]!.id : null };
}
