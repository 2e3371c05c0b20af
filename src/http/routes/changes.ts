/**
 * Dual control over HTTP: pending changes, their diffs, approval by a second
 * administrator with fresh MFA, rejection and withdrawal. A change is
 * visible to its proposer, to holders of the permission that approves it
 * (`roles:assign` for role changes, `policy:write` for policy pushes,
 * `catalog:write` for recoveries) and to security reviewers (`audit:read`);
 * to anyone else it does not exist (src/changes/visibility.ts).
 */
import { z } from 'zod';
import { approveChange } from '../../changes/approveChange.ts';
import { showChange } from '../../changes/deps.ts';
import { rejectChange } from '../../changes/rejectChange.ts';
import type { PendingChange } from '../../changes/store.ts';
import { listVisibleChanges, loadVisibleChange } from '../../changes/visibility.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, storableText, type AnyRoute, type RouteResult } from '../route.ts';

const Status = z.enum(['pending', 'applied', 'rejected', 'withdrawn', 'expired', 'failed']);

/** A change as the API shows it. */
export const Change = z.object({
  id: z.string(),
  kind: z.enum(['role.update', 'role.assign', 'role.unassign', 'policy.update', 'principal.recover']),
  target: z.string(),
  status: Status,
  reasons: z.array(z.string()),
  before: z.unknown(),
  after: z.unknown(),
  comment: z.string().nullable(),
  proposer_id: z.string(),
  proposed_at: z.string(),
  expires_at: z.string(),
  decided_by: z.string().nullable(),
  decided_at: z.string().nullable(),
  decision_reason: z.string().nullable(),
});

/** Without what applying needs internally (the payload) and the target's fingerprint. */
function view(c: PendingChange, now: Date) {
  const { payload: _payload, base: _base, ...rest } = showChange(c, now);
  return rest;
}

/** The answer of a route whose change waits for a second administrator: 202 with the change. */
export function pendingAnswer(c: PendingChange, now: Date): RouteResult {
  return { status: 202, headers: { Location: `/v1/changes/${c.id}` }, body: view(c, now) };
}

const Params = z.strictObject({ id: z.uuid() });
const session = { kind: 'session' } as const;

/** All change routes. */
export function changeRoutes(deps: AppDeps): AnyRoute[] {
  const d = deps.changes;
  return [
    defineRoute({
      method: 'get',
      path: '/v1/changes',
      summary: 'Changes waiting for (or decided by) a second administrator, newest first; only those the caller may see',
      tag: 'changes',
      auth: session,
      query: z.strictObject({ status: Status.optional(), limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.uuid().optional() }),
      responses: { 200: { description: 'A page of changes', schema: z.object({ items: z.array(Change), next_cursor: z.string().nullable() }) } },
      handler: async ({ query, auth }) => {
        const page = await listVisibleChanges(d, auth!, { limit: query.limit, before: query.cursor, status: query.status });
        const now = deps.clock.now();
        return { body: { items: page.items.map((c) => view(c, now)), next_cursor: page.next_cursor } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/changes/:id',
      summary: 'One change with its diff (before and after)',
      tag: 'changes',
      auth: session,
      params: Params,
      responses: { 200: { description: 'The change', schema: Change }, 404: { description: 'No such change (or not visible to the caller)' } },
      handler: async ({ params, auth }) => ({ body: view(await loadVisibleChange(d, auth!, params.id), deps.clock.now()) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/changes/:id/approve',
      summary: "Approve and apply someone else's change (approving permission, fresh MFA; never your own, never one that widens you)",
      tag: 'changes',
      // The permission and the step-up are checked by the operation, which audits each refusal with its reason.
      auth: session,
      params: Params,
      body: z.strictObject({ comment: storableText(2000).optional() }).optional(),
      responses: {
        200: { description: 'Applied (an approved recovery also carries `enrollment`: the new secret, shown only here)', schema: Change.extend({ enrollment: z.object({ secret: z.string(), expires_at: z.string() }).optional() }) },
        401: { description: 'Step-up required' },
        403: { description: 'Missing the approving permission, your own change, or one that widens you' },
        404: { description: 'No such change' },
        409: { description: 'Not pending, expired, or the target changed since it was proposed (the change failed)' },
      },
      handler: async ({ params, body, auth, meta }) => {
        const { enrollment, ...applied } = await approveChange(d, { auth: auth!, meta, id: params.id, comment: body?.comment });
        return { body: { ...view(applied, deps.clock.now()), ...(enrollment ? { enrollment } : {}) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/changes/:id/reject',
      summary: 'Reject a pending change (approving permission), or withdraw your own',
      tag: 'changes',
      auth: session,
      params: Params,
      body: z.strictObject({ reason: storableText(2000).optional() }).optional(),
      responses: { 200: { description: 'Rejected or withdrawn', schema: Change }, 403: { description: 'Neither the proposer nor an approver' }, 404: { description: 'No such change' }, 409: { description: 'Not pending, or expired' } },
      handler: async ({ params, body, auth, meta }) => ({ body: view(await rejectChange(d, { auth: auth!, meta, id: params.id, reason: body?.reason }), deps.clock.now()) }),
    }),
  ];
}
