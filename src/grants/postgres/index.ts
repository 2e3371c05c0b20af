/**
 * PostgreSQL storage of the just-in-time workflow. Approvals lock their
 * request row, so concurrent approvals are counted exactly once each and the
 * grant is created exactly once. Every write appends its audit events with
 * `recordIn` in its own transaction: the change and its trace commit
 * together, and a failed append rolls the change back (503, fail closed).
 */
import { secretHoldersOf } from '../../auth/secretsPostgres.ts';
import type { AuditLog } from '../../audit/log.ts';
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import { LAPSED_APPROVALS } from '../activationCheck.ts';
import type { AccessRequest, ApprovalOutcome, Grant, GrantInsert, GrantStore, Notification, ReviewItem, Trace } from '../store.ts';

export { createOutboxStore } from './outbox.ts';

type Row = Record<string, any>;
/** A client or a transaction: both run tagged queries. */
type Q = Sql | Tx;

const iso = (d: Date | string | null): string | null => (d === null ? null : (d instanceof Date ? d : new Date(d)).toISOString());

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

function toGrant(g: Row): Grant {
  const review: ReviewItem | null = g.review_id
    ? {
        id: g.review_id,
        status: g.review_status,
        outcome: g.review_outcome,
        finding: g.review_finding,
        closed_by: g.review_closed_by,
        closed_at: iso(g.review_closed_at),
        created_at: iso(g.review_created_at)!,
      }
    : null;
  return {
    id: g.id,
    principal_id: g.principal_id,
    role_id: g.role_id,
    project_id: g.project_id,
    dataset_id: g.dataset_id,
    not_before: iso(g.not_before)!,
    expires_at: iso(g.expires_at)!,
    status: g.status,
    break_glass: g.break_glass,
    request_id: g.request_id,
    justification: g.justification,
    created_by: g.created_by,
    created_at: iso(g.created_at)!,
    revoked_at: iso(g.revoked_at),
    revoked_by: g.revoked_by,
    revoke_reason: g.revoke_reason,
    review,
  };
}

/** Creates the store; `webhook` says whether notifications are queued. */
export function createGrantStore(sql: Sql, o: { clock: Clock; ids: IdGenerator; webhook: boolean; audit: AuditLog }): GrantStore {
  const grantSelect = (tx: Q) => tx`
    SELECT g.*, r.id AS review_id, r.status AS review_status, r.outcome AS review_outcome, r.finding AS review_finding,
           r.closed_by AS review_closed_by, r.closed_at AS review_closed_at, r.created_at AS review_created_at
    FROM grants g LEFT JOIN review_items r ON r.grant_id = g.id`;

  async function grantById(tx: Sql | Tx, id: string): Promise<Grant | undefined> {
    const [g] = await tx`${grantSelect(tx)} WHERE g.id = ${id}`;
    return g ? toGrant(g) : undefined;
  }

  async function requestById(tx: Sql | Tx, id: string, lock = false): Promise<AccessRequest | undefined> {
    const [r] = lock ? await tx`SELECT * FROM access_requests WHERE id = ${id} FOR UPDATE` : await tx`SELECT * FROM access_requests WHERE id = ${id}`;
    if (!r) return undefined;
    const approvals = await tx`SELECT approver_id, comment, created_at FROM access_request_approvals WHERE request_id = ${id} ORDER BY created_at, approver_id`;
    return toRequest(r, approvals);
  }

  async function queue(tx: Tx, notes: Notification[]): Promise<void> {
    if (!o.webhook) return;
    for (const n of notes) {
      const id = o.ids();
      const at = o.clock.now();
      const payload = { id, event: n.event, created_at: at.toISOString(), data: n.data };
      await tx`INSERT INTO webhook_deliveries (id, event, payload, next_attempt_at, created_at)
               VALUES (${id}, ${n.event}, ${tx.json(payload as never)}, now(), ${at})`;
    }
  }

  /** Appends the trace's audit events and queues its notifications, in the transaction of the change. */
  async function leave(tx: Tx, t: Trace): Promise<void> {
    // No change without its audit event: a failed append (AuditUnavailableError, 503) rolls the transaction back.
    for (const e of t.events) await o.audit.recordIn(tx, e);
    await queue(tx, t.notices);
  }

  /** Leaves what `trace` says of a stored row, in the transaction that stored it, and returns the row. */
  async function announce<T>(tx: Tx, stored: T, trace: (row: T) => Trace): Promise<T> {
    await leave(tx, trace(stored));
    return stored;
  }

  /** Closes a locked pending request past its expiry as expired, with its trace. */
  async function expire(tx: Tx, id: string, at: Date, expired: (r: AccessRequest) => Trace): Promise<AccessRequest | undefined> {
    const [r] = await tx`
      UPDATE access_requests SET status = 'expired', decided_at = expires_at
      WHERE id = ${id} AND status = 'pending' AND expires_at <= ${at} RETURNING id`;
    if (!r) return undefined;
    return announce(tx, (await requestById(tx, id))!, expired);
  }

  async function insertGrant(tx: Tx, g: GrantInsert): Promise<void> {
    await tx`
      INSERT INTO grants (id, principal_id, role_id, project_id, dataset_id, not_before, expires_at, status, break_glass, request_id, justification, created_by, created_at)
      VALUES (${g.id}, ${g.principalId}, ${g.roleId}, ${g.projectId}, ${g.datasetId}, ${g.notBefore}, ${g.expiresAt}, 'active', ${g.breakGlass},
              ${g.requestId}, ${g.justification}, ${g.createdBy}, ${o.clock.now()})`;
  }

  /**
   * Approver facts read through `q`. Inside a transaction that holds a
   * request's lock they must go through that transaction: waiting for a
   * pool connection while holding the lock would let concurrent approvals
   * (each holding a connection, waiting for the lock) starve it for good.
   */
  const factsVia = (q: Q) => ({
    async standingRoles(principalId: string) {
      const rows = await q`SELECT role_id, project_id FROM role_assignments WHERE principal_id = ${principalId}`;
      return rows.map((r: Row) => ({ role: r.role_id as string, project: (r.project_id as string | null) ?? null }));
    },
    async status(principalId: string) {
      const [p] = await q`SELECT status FROM principals WHERE id = ${principalId}`;
      return p?.status as string | undefined;
    },
    async projectOf(r: AccessRequest) {
      if (r.project_id) return r.project_id;
      const [d] = await q`SELECT project_id FROM datasets WHERE id = ${r.dataset_id}`;
      return d!.project_id as string;
    },
  });

  const uuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

  return {
    notifying: o.webhook,

    insertRequest: (r, trace) =>
      sql.begin(async (tx) => {
        await tx`
          INSERT INTO access_requests (id, requester_id, role_id, project_id, dataset_id, justification, duration_seconds, starts_at, approvals_required, created_at, expires_at)
          VALUES (${r.id}, ${r.requester_id}, ${r.role_id}, ${r.project_id}, ${r.dataset_id}, ${r.justification}, ${r.duration_seconds},
                  ${r.starts_at}, ${r.approvals_required}, ${r.created_at}, ${r.expires_at})`;
        return announce(tx, (await requestById(tx, r.id))!, trace);
      }),

    getRequest: (id) => (uuid(id) ? requestById(sql, id) : Promise.resolve(undefined)),
    secretHoldersOf: (principalId, at) => secretHoldersOf(sql, principalId, at),

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
      sql.begin(async (tx): Promise<ApprovalOutcome> => {
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
          await insertGrant(tx, g);
          await tx`UPDATE access_requests SET status = 'approved', grant_id = ${g.id}, decided_at = ${a.at}, decided_by = ${a.approverId} WHERE id = ${a.requestId}`;
          request = (await requestById(tx, a.requestId))!;
          grant = (await grantById(tx, g.id))!;
        }
        await leave(tx, trace({ request, grant, counted, discounted }));
        return { kind: 'recorded', request, counted, grant, discounted };
      }),

    closeRequest: (c, trace, expired) =>
      sql.begin(async (tx) => {
        if (await expire(tx, c.requestId, c.at, expired)) return undefined;
        const [r] = await tx`
          UPDATE access_requests SET status = ${c.status}, decided_by = ${c.by}, decided_at = ${c.at}, decision_reason = ${c.reason}
          WHERE id = ${c.requestId} AND status = 'pending' AND expires_at > ${c.at} RETURNING id`;
        if (!r) return undefined;
        return announce(tx, (await requestById(tx, c.requestId))!, trace);
      }),

    expireRequests: (now, expired) =>
      sql.begin(async (tx) => {
        const due = await tx`
          SELECT id FROM access_requests WHERE status = 'pending' AND expires_at <= ${now}
          ORDER BY expires_at LIMIT 500 FOR UPDATE SKIP LOCKED`;
        let n = 0;
        for (const { id } of due) if (await expire(tx, id as string, now, expired)) n++;
        return n;
      }),

    getGrant: (id) => (uuid(id) ? grantById(sql, id) : Promise.resolve(undefined)),

    async listGrants(f) {
      const rows = await sql`
        ${grantSelect(sql)}
        WHERE true
          ${f.principalId ? sql`AND g.principal_id = ${f.principalId}` : sql``}
          ${f.breakGlass === undefined ? sql`` : sql`AND g.break_glass = ${f.breakGlass}`}
          ${f.reviewStatus ? sql`AND r.status = ${f.reviewStatus}` : sql``}
          ${f.before ? sql`AND g.id < ${f.before}` : sql``}
        ORDER BY g.id DESC LIMIT ${f.limit}`;
      return rows.map(toGrant);
    },

    revokeGrant: (r, trace) =>
      sql.begin(async (tx) => {
        const [g] = await tx`
          UPDATE grants SET status = 'revoked', revoked_at = ${r.at}, revoked_by = ${r.by}, revoke_reason = ${r.reason}
          WHERE id = ${r.grantId} AND status = 'active' RETURNING id`;
        if (!g) return undefined;
        return announce(tx, (await grantById(tx, r.grantId))!, trace);
      }),

    insertBreakGlass: (g, reviewId, trace) =>
      sql.begin(async (tx) => {
        await insertGrant(tx, g);
        // Announced at once (the break-glass notification); the lifecycle sweep must not repeat it.
        await tx`UPDATE grants SET activated_notified_at = ${g.notBefore} WHERE id = ${g.id}`;
        await tx`INSERT INTO review_items (id, kind, grant_id, created_at) VALUES (${reviewId}, 'break_glass', ${g.id}, ${o.clock.now()})`;
        return announce(tx, (await grantById(tx, g.id))!, trace);
      }),

    closeReview: (c, trace) =>
      sql.begin(async (tx) => {
        const [r] = await tx`
          UPDATE review_items SET status = 'closed', outcome = ${c.outcome}, finding = ${c.finding}, closed_by = ${c.by}, closed_at = ${c.at}
          WHERE grant_id = ${c.grantId} AND status = 'open' RETURNING id`;
        if (!r) return undefined;
        return announce(tx, (await grantById(tx, c.grantId))!, trace);
      }),

    announceLifecycle: (now, note, activation) =>
      sql.begin(async (tx) => {
        const activated = await tx`
          UPDATE grants SET activated_notified_at = ${now}
          WHERE id IN (SELECT id FROM grants WHERE activated_notified_at IS NULL AND status = 'active' AND not_before <= ${now} AND expires_at > ${now}
                       ORDER BY not_before LIMIT 500 FOR UPDATE SKIP LOCKED)
          RETURNING id`;
        const expired = await tx`
          UPDATE grants SET expired_notified_at = ${now}, activated_notified_at = coalesce(activated_notified_at, ${now})
          WHERE id IN (SELECT id FROM grants WHERE expired_notified_at IS NULL AND status = 'active' AND expires_at <= ${now}
                       ORDER BY expires_at LIMIT 500 FOR UPDATE SKIP LOCKED)
          RETURNING id`;
        let revoked = 0;
        for (const { id } of activated) {
          const g = (await grantById(tx, id))!;
          const request = g.request_id && !g.break_glass ? (await requestById(tx, g.request_id))! : undefined;
          if (request) {
            // Re-judged as it takes effect: approvals whose approver has since lost the role no longer carry it.
            const { counting, discounted } = await activation.check(request, factsVia(tx));
            if (counting.length < request.approvals_required) {
              await tx`UPDATE grants SET status = 'revoked', revoked_at = ${now}, revoke_reason = ${LAPSED_APPROVALS} WHERE id = ${id} AND status = 'active'`;
              await leave(tx, activation.revoked((await grantById(tx, id))!, { request, discounted }));
              revoked++;
              continue;
            }
          }
          await queue(tx, note(g, 'activated'));
        }
        for (const { id } of expired) await queue(tx, note((await grantById(tx, id))!, 'expired'));
        return { activated: activated.length - revoked, expired: expired.length, revoked };
      }),

    standingRoles: (principalId) => factsVia(sql).standingRoles(principalId),

    approverFacts: factsVia(sql),
  };
}
