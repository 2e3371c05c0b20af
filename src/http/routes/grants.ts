/**
 * Just-in-time access: requests and their approval, grants, and
 * break-glass with its after-the-fact review. Who may see and list what is
 * decided in src/grants/ (visibility.ts, listRequests.ts, listGrants.ts);
 * here are the schemas and how a request or grant reads as of now.
 */
import { z } from 'zod';
import type { AuthContext } from '../../auth/context.ts';
import { decodeCursor, encodeCursor } from '../../catalog/cursor.ts';
import { activateBreakGlass, closeBreakGlassReview } from '../../grants/breakGlass.ts';
import { approvalsInForce } from '../../grants/approvalsInForce.ts';
import { listGrants, type ListGrantsOptions } from '../../grants/listGrants.ts';
import { listRequests } from '../../grants/listRequests.ts';
import { namesOf } from '../../grants/namesOf.ts';
import { requestAccess } from '../../grants/requestAccess.ts';
import { requestableRoles } from '../../grants/requestableRoles.ts';
import { revokeRequestGrant } from '../../grants/revokeRequestGrant.ts';
import { approveRequest, cancelRequest, denyRequest, revokeGrant } from '../../grants/reviewRequest.ts';
import type { AccessRequest, Grant } from '../../grants/store.ts';
import { loadVisibleGrant, loadVisibleRequest } from '../../grants/visibility.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, storableText, type AnyRoute } from '../route.ts';

const Scope = {
  project: z.string().min(1).max(63).optional().describe('the project the role is wanted in (or give dataset)'),
  dataset: z.string().min(1).max(128).optional().describe('one dataset the role is wanted for (or give project)'),
};
const Reason = storableText(2000);
const IdParams = z.strictObject({ id: z.uuid() });
const ListQuery = z.strictObject({
  view: z.enum(['mine', 'to-approve', 'all']).default('mine').describe('mine: my requests; to-approve: pending ones I may approve; all: every request (security reviewers)'),
  status: z.enum(['pending', 'approved', 'denied', 'cancelled', 'expired']).optional().describe('expired: pending requests past their expiry, too'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

const ReviewSchema = z.object({
  id: z.string(),
  status: z.enum(['open', 'closed']),
  outcome: z.enum(['justified', 'unjustified']).nullable(),
  finding: z.string().nullable(),
  closed_by: z.string().nullable(),
  closed_at: z.string().nullable(),
  created_at: z.string(),
});
const GrantSchema = z.object({
  id: z.string(),
  principal_id: z.string(),
  role_id: z.string(),
  project_id: z.string().nullable(),
  dataset_id: z.string().nullable(),
  not_before: z.string(),
  expires_at: z.string(),
  status: z.enum(['active', 'revoked']),
  state: z.enum(['scheduled', 'active', 'expired', 'revoked']).describe('status as of now'),
  break_glass: z.boolean(),
  request_id: z.string().nullable(),
  justification: z.string().nullable(),
  created_by: z.string().nullable(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
  revoked_by: z.string().nullable(),
  revoke_reason: z.string().nullable(),
  review: ReviewSchema.nullable(),
});
const HistoryEntry = z.object({ at: z.string(), event: z.string(), by: z.string().nullable(), detail: z.string().nullable() });
const RequestSchema = z.object({
  id: z.string(),
  requester_id: z.string(),
  role_id: z.string(),
  project_id: z.string().nullable(),
  dataset_id: z.string().nullable(),
  justification: z.string(),
  duration_seconds: z.number(),
  starts_at: z.string().nullable(),
  approvals_required: z.number(),
  status: z.enum(['pending', 'approved', 'denied', 'cancelled', 'expired']).describe('as of now: a pending request past expires_at shows as expired'),
  expires_at: z.string().describe('when the request lapses if still pending'),
  decided_by: z.string().nullable(),
  decided_at: z.string().nullable(),
  decision_reason: z.string().nullable(),
  grant_id: z.string().nullable(),
  created_at: z.string(),
  approvals: z.array(z.object({ approver_id: z.string(), comment: z.string().nullable(), created_at: z.string() })),
});
const Names = z.record(z.string(), z.string()).describe('the names of the principals the request mentions (requester, approvers, who decided or revoked), by id');
const NamedRequest = RequestSchema.extend({ names: Names });
const Discounted = z.array(z.object({ approver_id: z.string(), reason: z.string() })).describe('approvals of a pending request that no longer count, and why');
const RequestWithHistory = NamedRequest.extend({ grant: GrantSchema.nullable(), history: z.array(HistoryEntry), discounted: Discounted });

/** A request as of `now`: pending past its expiry reads as expired, whether or not that was written down yet. */
function showRequest(r: AccessRequest, now: Date): AccessRequest {
  return r.status === 'pending' && Date.parse(r.expires_at) <= now.getTime() ? { ...r, status: 'expired', decided_at: r.expires_at } : r;
}

/** A grant as shown, with its state at `now`. */
function showGrant(g: Grant, now: Date): z.infer<typeof GrantSchema> {
  const t = now.getTime();
  const state = g.status === 'revoked' ? 'revoked' : t < Date.parse(g.not_before) ? 'scheduled' : t < Date.parse(g.expires_at) ? 'active' : 'expired';
  return { ...g, state };
}

/** The names one request mentions, out of a page's. */
function pick(names: Record<string, string>, r: AccessRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const id of [r.requester_id, ...r.approvals.map((a) => a.approver_id), r.decided_by]) if (id && names[id] !== undefined) out[id] = names[id];
  return out;
}

/** What happened to a request, in order. */
function historyOf(r: AccessRequest, g: Grant | undefined, now: Date): z.infer<typeof HistoryEntry>[] {
  const h: z.infer<typeof HistoryEntry>[] = [{ at: r.created_at, event: 'requested', by: r.requester_id, detail: r.justification }];
  for (const a of r.approvals) h.push({ at: a.created_at, event: 'approval', by: a.approver_id, detail: a.comment });
  if (r.status === 'denied' || r.status === 'cancelled') h.push({ at: r.decided_at!, event: r.status, by: r.decided_by, detail: r.decision_reason });
  if (r.status === 'expired') h.push({ at: r.expires_at, event: 'expired', by: null, detail: 'not approved in time' });
  if (r.status === 'approved') h.push({ at: r.decided_at!, event: 'approved', by: r.decided_by, detail: null });
  if (g) {
    if (Date.parse(g.not_before) <= now.getTime() && (!g.revoked_at || Date.parse(g.revoked_at) >= Date.parse(g.not_before))) h.push({ at: g.not_before, event: 'activated', by: null, detail: null });
    if (g.revoked_at) h.push({ at: g.revoked_at, event: 'revoked', by: g.revoked_by, detail: g.revoke_reason });
    else if (Date.parse(g.expires_at) <= now.getTime()) h.push({ at: g.expires_at, event: 'expired', by: null, detail: null });
  }
  return h.sort((a, b) => a.at.localeCompare(b.at));
}

/** Routes under /v1/access-requests, /v1/grants and /v1/break-glass. */
export function grantRoutes(deps: AppDeps): AnyRoute[] {
  const g = deps.grants;
  const actor = (auth: AuthContext | undefined, meta: { ip: string | undefined; requestId: string | undefined }) => ({ auth: auth!, meta });

  /** One page of grants the caller may list (src/grants/listGrants.ts), newest first, with their state now. */
  const grantPage = async (auth: AuthContext, page: { limit: number; cursor?: string | undefined }, o: Omit<ListGrantsOptions, 'limit' | 'before'>) => {
    const r = await listGrants(g, auth, { ...o, limit: page.limit, before: decodeCursor(page.cursor) });
    const now = deps.clock.now();
    return { items: r.items.map((x) => showGrant(x, now)), next_cursor: r.nextBefore === null ? null : encodeCursor(r.nextBefore) };
  };

  const withHistory = async (stored: AccessRequest) => {
    const grant = stored.grant_id ? await g.store.getGrant(stored.grant_id) : undefined;
    const now = deps.clock.now();
    const r = showRequest(stored, now);
    // What a pending request's approvals are worth now; a decided request was judged when it was decided.
    const discounted = r.status === 'pending' && r.approvals.length ? (await approvalsInForce(g)(r, g.store.approverFacts)).discounted : [];
    const names = await namesOf(g, [r], [grant?.revoked_by ?? null]);
    return { ...r, grant: grant ? showGrant(grant, now) : null, history: historyOf(r, grant, now), discounted, names };
  };

  return [
    defineRoute({
      method: 'post',
      path: '/v1/access-requests',
      summary: 'Ask for a role in a project or dataset for a while, with a justification',
      tag: 'access',
      auth: { kind: 'session' },
      body: z.strictObject({
        role: z.string().min(1).max(63),
        ...Scope,
        duration_seconds: z.number().int().min(60).max(31_536_000).describe('how long the grant lasts once active (policy caps it per role)'),
        justification: Reason,
        starts_at: z.iso.datetime({ offset: true }).optional().describe('scheduled start; omitted = as soon as approved'),
      }),
      responses: { 201: { description: 'Filed, pending approval', schema: RequestSchema } },
      handler: async ({ body, auth, meta }) => ({ status: 201, body: await requestAccess(g, actor(auth, meta), body) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/requestable-roles',
      summary: 'The roles one may request just in time, with their longest duration, approvals needed and approving roles (the policy in force)',
      tag: 'access',
      auth: { kind: 'session' },
      responses: {
        200: {
          description: 'By role name',
          schema: z.object({
            items: z.array(z.object({ role: z.string(), max_duration_seconds: z.number().int(), approvals: z.number().int(), approver_roles: z.array(z.string()) })),
          }),
        },
      },
      handler: async () => ({ body: { items: requestableRoles(g) } }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/access-requests',
      summary: 'List access requests: mine, those I may approve, or all (security reviewers)',
      tag: 'access',
      auth: { kind: 'session' },
      query: ListQuery,
      responses: { 200: { description: 'Newest first', schema: z.object({ items: z.array(NamedRequest), next_cursor: z.string().nullable() }) } },
      handler: async ({ query, auth }) => {
        const r = await listRequests(g, auth!, { view: query.view, status: query.status, limit: query.limit, before: decodeCursor(query.cursor) });
        const now = deps.clock.now();
        const names = await namesOf(g, r.items);
        const items = r.items.map((x) => ({ ...showRequest(x, now), names: pick(names, x) }));
        return { body: { items, next_cursor: r.nextBefore === null ? null : encodeCursor(r.nextBefore) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/access-requests/:id',
      summary: 'One access request, with its approvals, grant and history',
      tag: 'access',
      auth: { kind: 'session' },
      params: IdParams,
      responses: { 200: { description: 'The request', schema: RequestWithHistory }, 404: { description: 'No such request, or not yours to see' } },
      handler: async ({ params, auth }) => ({ body: await withHistory(await loadVisibleRequest(g, auth!, params.id)) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/access-requests/:id/approve',
      summary: "Approve someone else's request (approving role for its scope, fresh MFA); the grant starts once enough distinct approvers agree",
      tag: 'access',
      auth: { kind: 'session', stepUp: true },
      params: IdParams,
      body: z.strictObject({ comment: storableText(2000).optional() }),
      responses: {
        200: { description: 'Approval recorded; `grant` is set when it completed the request', schema: RequestWithHistory.extend({ counted: z.boolean() }) },
        409: { description: 'The request is no longer pending' },
      },
      handler: async ({ params, body, auth, meta }) => {
        const r = await approveRequest(g, actor(auth, meta), params.id, body.comment);
        return { body: { ...(await withHistory(r.request)), counted: r.counted, discounted: r.discounted } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/access-requests/:id/deny',
      summary: "Deny someone else's request, with a reason (approving role, fresh MFA)",
      tag: 'access',
      auth: { kind: 'session', stepUp: true },
      params: IdParams,
      body: z.strictObject({ reason: Reason }),
      responses: { 200: { description: 'Denied', schema: RequestWithHistory }, 409: { description: 'The request is no longer pending' } },
      handler: async ({ params, body, auth, meta }) => ({ body: await withHistory(await denyRequest(g, actor(auth, meta), params.id, body.reason)) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/access-requests/:id/cancel',
      summary: 'Withdraw my pending request',
      tag: 'access',
      auth: { kind: 'session' },
      params: IdParams,
      responses: { 200: { description: 'Cancelled', schema: RequestWithHistory }, 409: { description: 'The request is no longer pending' } },
      handler: async ({ params, auth, meta }) => ({ body: await withHistory(await cancelRequest(g, actor(auth, meta), params.id)) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/access-requests/:id/revoke',
      summary: "Revoke the grant an approved request produced (its holder, an approver of its scope, a reviewer or an administrator); its tokens go inactive at once",
      tag: 'access',
      auth: { kind: 'session' },
      params: IdParams,
      body: z.strictObject({ reason: Reason }),
      responses: { 200: { description: 'Revoked', schema: RequestWithHistory }, 409: { description: 'No active grant' } },
      handler: async ({ params, body, auth, meta }) => ({ body: await withHistory(await revokeRequestGrant(g, actor(auth, meta), params.id, body.reason)) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/grants',
      summary: 'List grants: mine, or all (security reviewers), optionally only break-glass ones',
      tag: 'access',
      auth: { kind: 'session' },
      query: z.strictObject({
        view: z.enum(['mine', 'all']).default('mine'),
        break_glass: z.enum(['true', 'false']).optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().max(200).optional(),
      }),
      responses: { 200: { description: 'Newest first', schema: z.object({ items: z.array(GrantSchema), next_cursor: z.string().nullable() }) } },
      handler: async ({ query, auth }) => ({
        body: await grantPage(auth!, query, { view: query.view, breakGlass: query.break_glass === undefined ? undefined : query.break_glass === 'true' }),
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/grants/:id',
      summary: 'One grant (its holder, or a security reviewer)',
      tag: 'access',
      auth: { kind: 'session' },
      params: IdParams,
      responses: { 200: { description: 'The grant', schema: GrantSchema }, 404: { description: 'No such grant, or not yours to see' } },
      handler: async ({ params, auth }) => ({ body: showGrant(await loadVisibleGrant(g, auth!, params.id), deps.clock.now()) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/grants/:id/revoke',
      summary: 'Revoke a grant at once (its holder, an approver of its scope, a security reviewer or an administrator); its tokens go inactive',
      tag: 'access',
      auth: { kind: 'session' },
      params: IdParams,
      body: z.strictObject({ reason: Reason }),
      responses: { 200: { description: 'Revoked', schema: GrantSchema }, 409: { description: 'Already revoked' } },
      handler: async ({ params, body, auth, meta }) => ({ body: showGrant(await revokeGrant(g, actor(auth, meta), params.id, body.reason), deps.clock.now()) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/break-glass',
      summary: 'Emergency access for myself, now (fresh MFA, a reason); purpose `emergency` only, flagged, notified and reviewed',
      tag: 'access',
      auth: { kind: 'session', stepUp: true },
      body: z.strictObject({ ...Scope, reason: Reason, duration_seconds: z.number().int().min(60).max(86_400).optional().describe('default and cap: the policy maximum (one hour)') }),
      responses: { 201: { description: 'Active now', schema: GrantSchema } },
      handler: async ({ body, auth, meta }) => ({ status: 201, body: showGrant(await activateBreakGlass(g, actor(auth, meta), body), deps.clock.now()) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/break-glass',
      summary: 'Break-glass activations and their reviews (security reviewers see all; others their own)',
      tag: 'access',
      auth: { kind: 'session' },
      query: z.strictObject({ review: z.enum(['open', 'closed']).optional(), limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(200).optional() }),
      responses: { 200: { description: 'Newest first', schema: z.object({ items: z.array(GrantSchema), next_cursor: z.string().nullable() }) } },
      handler: async ({ query, auth }) => ({ body: await grantPage(auth!, query, { view: 'visible', breakGlass: true, reviewStatus: query.review }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/break-glass/:id/review',
      summary: "Close the review of a break-glass activation with a finding (security reviewer, fresh MFA, not one's own)",
      tag: 'access',
      auth: { kind: 'permission', permission: 'access:review', stepUp: true },
      params: IdParams,
      body: z.strictObject({ outcome: z.enum(['justified', 'unjustified']), finding: Reason }),
      responses: { 200: { description: 'Reviewed', schema: GrantSchema }, 409: { description: 'Already reviewed' } },
      handler: async ({ params, body, auth, meta }) => ({ body: showGrant(await closeBreakGlassReview(g, actor(auth, meta), params.id, body), deps.clock.now()) }),
    }),
  ];
}
