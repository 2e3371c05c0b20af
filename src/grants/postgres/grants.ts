/**
 * Grants and the review items of break-glass grants in PostgreSQL.
 */
import type { Clock } from '../../clock.ts';
import type { Tx } from '../../db/client.ts';
import type { Grant, GrantInsert, GrantStore, ReviewItem } from '../store.ts';
import { iso, uuid, type GrantContext, type Q, type Row } from './common.ts';
import { transaction } from '../../db/transaction.ts';

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

/** A grant's columns and its review item's, as `toGrant` reads them. */
const grantSelect = (tx: Q) => tx`
    SELECT g.*, r.id AS review_id, r.status AS review_status, r.outcome AS review_outcome, r.finding AS review_finding,
           r.closed_by AS review_closed_by, r.closed_at AS review_closed_at, r.created_at AS review_created_at
    FROM grants g LEFT JOIN review_items r ON r.grant_id = g.id`;

/** A grant with its review item, if any. */
export async function grantById(tx: Q, id: string): Promise<Grant | undefined> {
  const [g] = await tx`${grantSelect(tx)} WHERE g.id = ${id}`;
  return g ? toGrant(g) : undefined;
}

/** Inserts an active grant, created now by `clock`. */
export async function insertGrant(tx: Tx, g: GrantInsert, clock: Clock): Promise<void> {
  await tx`
    INSERT INTO grants (id, principal_id, role_id, project_id, dataset_id, not_before, expires_at, status, break_glass, request_id, justification, created_by, created_at)
    VALUES (${g.id}, ${g.principalId}, ${g.roleId}, ${g.projectId}, ${g.datasetId}, ${g.notBefore}, ${g.expiresAt}, 'active', ${g.breakGlass},
            ${g.requestId}, ${g.justification}, ${g.createdBy}, ${clock.now()})`;
}

/** The store's grant and review methods. */
export function grantStatements(ctx: GrantContext): Pick<GrantStore, 'getGrant' | 'listGrants' | 'revokeGrant' | 'insertBreakGlass' | 'closeReview'> {
  const { sql, o, announce } = ctx;
  return {
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
      transaction(sql, async (tx) => {
        const [g] = await tx`
          UPDATE grants SET status = 'revoked', revoked_at = ${r.at}, revoked_by = ${r.by}, revoke_reason = ${r.reason}
          WHERE id = ${r.grantId} AND status = 'active' RETURNING id`;
        if (!g) return undefined;
        return announce(tx, (await grantById(tx, r.grantId))!, trace);
      }),

    insertBreakGlass: (g, reviewId, trace) =>
      transaction(sql, async (tx) => {
        await insertGrant(tx, g, o.clock);
        // Announced at once (the break-glass notification); the lifecycle sweep must not repeat it.
        await tx`UPDATE grants SET activated_notified_at = ${g.notBefore} WHERE id = ${g.id}`;
        await tx`INSERT INTO review_items (id, kind, grant_id, created_at) VALUES (${reviewId}, 'break_glass', ${g.id}, ${o.clock.now()})`;
        return announce(tx, (await grantById(tx, g.id))!, trace);
      }),

    closeReview: (c, trace) =>
      transaction(sql, async (tx) => {
        const [r] = await tx`
          UPDATE review_items SET status = 'closed', outcome = ${c.outcome}, finding = ${c.finding}, closed_by = ${c.by}, closed_at = ${c.at}
          WHERE grant_id = ${c.grantId} AND status = 'open' RETURNING id`;
        if (!r) return undefined;
        return announce(tx, (await grantById(tx, c.grantId))!, trace);
      }),
  };
}
