/**
 * Access requests and their approvals in PostgreSQL. An approval locks its
 * request row, so concurrent approvals are counted exactly once each and the
 * grant is created exactly once.
 */
import type { Tx } from '../../db/client.ts';
import type { AccessRequest, ApprovalOutcome, Grant, GrantStore, Trace } from '../store.ts';
import { factsVia } from './approverFacts.ts';
import { iso, uuid, type GrantContext, type Q, type Row } from './common.ts';
import { grantById, insertGrant } from './grants.ts';
import { transaction } from '../../db/transaction.ts';

function toRequest(r: Row, approvals: Row[]): AccessRequest {
  return {
    id: r.id,
    requester_id: r.requester_id,
    role_id: r.role_id,
    project_id: r.project_id,
    dataset_id: r.dataset_id,
    justification: r.justification,
    duration_seconds: r.duration_seconds,
    starts_at: iso(r.starts_at),
    approvals_required: r.approvals_required,
    status: r.status,
    expires_at: iso(r.expires_at)!,
    decided_by: r.decided_by,
    decided_at: iso(r.decided_at),
    decision_reason: r.decision_reason,
    grant_id: r.grant_id,
    created_at: iso(r.created_at)!,
    approvals: approvals.map((a) => ({ approver_id: a.approver_id, comment: a.comment, created_at: iso(a.created_at)! })),
  };
}

/** A request with its approvals; with `lock`, its row stays locked until the transaction ends. */
export async function requestById(tx: Q, id: string, lock = false): Promise<AccessRequest | undefined> {
  const [r] = lock ? await tx`SELECT * FROM access_requests WHERE id = ${id} FOR UPDATE` : await tx`SELECT * FROM access_requests WHERE id = ${id}`;
  if (!r) return undefined;
  const approvals = await tx`SELECT approver_id, comment, created_at FROM access_request_approvals WHERE request_id = ${id} ORDER BY created_at, approver_id`;
  return toRequest(r, approvals);
}

/** The store's request methods. */
export function requestStatements(ctx: GrantContext): Pick<GrantStore, 'insertRequest' | 'getRequest' | 'listRequests' | 'approve' | 'closeRequest' | 'expireRequests'> {
  const { sql, o, leave, announce } = ctx;

  /** Closes a locked pending request past its expiry as expired, with its trace. */
  async function expire(tx: Tx, id: string, at: Date, expired: (r: AccessRequest) => Trace): Promise<AccessRequest | undefined> {
    const [r] = await tx`
      UPDATE access_requests SET status = 'expired', decided_at = expires_at
      WHERE id = ${id} AND status = 'pending' AND expires_at <= ${at} RETURNING id`;
    if (!r) return undefined;
    return announce(tx, (await requestById(tx, id))!, expired);
  }

  return {
    insertRequest: (r, trace) =>
      transaction(sql, async (tx) => {
        await tx`
          INSERT INTO access_requests (id, requester_id, role_id, project_id, dataset_id, justification, duration_seconds, starts_at, approvals_required, created_at, expires_at)
          VALUES (${r.id}, ${r.requester_id}, ${r.role_id}, ${r.project_id}, ${r.dataset_id}, ${r.justification}, ${r.duration_seconds},
                  ${r.starts_at}, ${r.approvals_required}, ${r.created_at}, ${r.expires_at})`;
        return announce(tx, (await requestById(tx, r.id))!, trace);
      }),

    getRequest: (id) => (uuid(id) ? requestById(sql, id) : Promise.resolve(undefined)),

    async listRequests(f) {
      const rows = await sql`
        SELECT * FROM access_requests
        WHERE true
          ${f.requesterId ? sql`AND requester_id = ${f.requesterId}` : sql``}
          ${
            f.status === 'pending'
              ? sql`AND status = 'pending' AND expires_at > ${f.now}`
              : f.status === 'expired'
                ? sql`AND (status = 'expired' OR (status = 'pending' AND expires_at <= ${f.now}))`
                : f.status
                  ? sql`AND status = ${f.status}`
                  : sql``
          }
          ${f.before ? sql`AND id < ${f.before}` : sql``}
        ORDER BY id DESC LIMIT ${f.limit}`;
      if (!rows.length) return [];
      const approvals = await sql`SELECT request_id, approver_id, comment, created_at FROM access_request_approvals
                                  WHERE request_id IN ${sql(rows.map((r: Row) => r.id))} ORDER BY created_at, approver_id`;
      return rows.map((r: Row) => toRequest(r, approvals.filter((a: Row) => a.request_id === r.id)));
    },

    approve: (a, check, complete, trace, expired) =>
      transaction(sql, async (tx): Promise<ApprovalOutcome> => {
        const locked = await requestById(tx, a.requestId, true);
        if (!locked) throw new Error('request vanished');
        if (locked.status !== 'pending') return { kind: 'not-pending', request: locked };
        const lapsed = await expire(tx, a.requestId, a.at, expired);
        if (lapsed) return { kind: 'expired', request: lapsed };
        const inserted = await tx`
          INSERT INTO access_request_approvals (request_id, approver_id, comment, created_at)
          VALUES (${a.requestId}, ${a.approverId}, ${a.comment}, ${a.at})
          ON CONFLICT (request_id, approver_id) DO NOTHING RETURNING approver_id`;
        const counted = inserted.length === 1;
        let request = (await requestById(tx, a.requestId))!;
        let grant: Grant | null = null;
        // Only approvals whose approvers still may approve count towards the decision.
        const { counting, discounted } = await check(request, factsVia(tx));
        if (counting.length >= request.approvals_required) {
          const g = complete(request);
          await insertGrant(tx, g, o.clock);
          await tx`UPDATE access_requests SET status = 'approved', grant_id = ${g.id}, decided_at = ${a.at}, decided_by = ${a.approverId} WHERE id = ${a.requestId}`;
          request = (await requestById(tx, a.requestId))!;
          grant = (await grantById(tx, g.id))!;
        }
        await leave(tx, trace({ request, grant, counted, discounted }));
        return { kind: 'recorded', request, counted, grant, discounted };
      }),

    closeRequest: (c, trace, expired) =>
      transaction(sql, async (tx) => {
        if (await expire(tx, c.requestId, c.at, expired)) return undefined;
        const [r] = await tx`
          UPDATE access_requests SET status = ${c.status}, decided_by = ${c.by}, decided_at = ${c.at}, decision_reason = ${c.reason}
          WHERE id = ${c.requestId} AND status = 'pending' AND expires_at > ${c.at} RETURNING id`;
        if (!r) return undefined;
        return announce(tx, (await requestById(tx, c.requestId))!, trace);
      }),

    expireRequests: (now, expired) =>
      transaction(sql, async (tx) => {
        const due = await tx`
          SELECT id FROM access_requests WHERE status = 'pending' AND expires_at <= ${now}
          ORDER BY expires_at LIMIT 500 FOR UPDATE SKIP LOCKED`;
        let n = 0;
        for (const { id } of due) if (await expire(tx, id as string, now, expired)) n++;
        return n;
      }),
  };
}
