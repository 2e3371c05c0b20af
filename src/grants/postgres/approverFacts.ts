/**
 * What an approval check reads about approvers, in PostgreSQL.
 */
import type { AccessRequest, ApproverFacts } from '../store.ts';
import type { Q, Row } from './common.ts';

/**
 * Approver facts read through `q`. Inside a transaction that holds a
 * request's lock they must go through that transaction: waiting for a
 * pool connection while holding the lock would let concurrent approvals
 * (each holding a connection, waiting for the lock) starve it for good.
 */
export const factsVia = (q: Q): ApproverFacts => ({
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
