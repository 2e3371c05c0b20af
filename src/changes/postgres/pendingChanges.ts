/**
 * Pending changes (migrations/0018) in PostgreSQL: proposed, locked while
 * decided, decided once.
 */
import type { Sql, Tx } from '../../db/client.ts';
import { ConflictError } from '../../errors.ts';
import type { ChangeStore, ChangeTx, PendingChange } from '../store.ts';

type Row = Record<string, any>;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function toChange(r: Row): PendingChange {
  return {
    id: r.id,
    kind: r.kind,
    target: r.target,
    payload: r.payload,
    before: r.before,
    after: r.after,
    base: r.base,
    reasons: r.reasons,
    comment: r.comment ?? null,
    proposer_id: r.proposer_id,
    proposed_at: iso(r.proposed_at)!,
    expires_at: iso(r.expires_at)!,
    status: r.status,
    decided_by: r.decided_by ?? null,
    decided_at: iso(r.decided_at ?? null),
    decision_reason: r.decision_reason ?? null,
  };
}

/** The transaction's pending-change methods. */
export function pendingChangeTxStatements(tx: Tx): Pick<ChangeTx, 'insertChange' | 'lockChange' | 'decide'> {
  return {
    async insertChange(c) {
      const [r] = await tx`
        INSERT INTO pending_changes (id, kind, target, payload, before, after, base, reasons, comment, proposer_id, proposed_at, expires_at)
        VALUES (${c.id}, ${c.kind}, ${c.target}, ${tx.json(c.payload as never)}, ${c.before === null ? null : tx.json(c.before as never)}, ${c.after === null ? null : tx.json(c.after as never)},
                ${c.base}, ${c.reasons}, ${c.comment}, ${c.proposer_id}, ${c.proposed_at}, ${c.expires_at})
        RETURNING *`;
      return toChange(r!);
    },
    async lockChange(id) {
      const [r] = await tx`SELECT * FROM pending_changes WHERE id = ${id} FOR UPDATE`;
      return r ? toChange(r) : undefined;
    },
    async decide(id, d) {
      const [r] = await tx`
        UPDATE pending_changes SET status = ${d.status}, decided_by = ${d.by}, decided_at = ${d.at}, decision_reason = ${d.reason}
        WHERE id = ${id} AND status = 'pending' RETURNING *`;
      if (!r) throw new ConflictError('The change has already been decided.');
      return toChange(r);
    },
  };
}

/** The store's reads of pending changes, outside any transaction. */
export function pendingChangeStatements(sql: Sql): Pick<ChangeStore, 'get' | 'list'> {
  return {
    async get(id) {
      const [r] = await sql`SELECT * FROM pending_changes WHERE id = ${id}`;
      return r ? toChange(r) : undefined;
    },
    async list({ limit, before, status, now }) {
      const filter =
        status === undefined
          ? sql``
          : status === 'pending'
            ? sql`AND status = 'pending' AND expires_at > ${now}`
            : status === 'expired'
              ? sql`AND (status = 'expired' OR (status = 'pending' AND expires_at <= ${now}))`
              : sql`AND status = ${status}`;
      const rows = await sql`
        SELECT * FROM pending_changes WHERE true ${filter} ${before ? sql`AND id < ${before}::uuid` : sql``}
        ORDER BY id DESC LIMIT ${limit + 1}`;
      const items = rows.slice(0, limit).map(toChange);
      return { items, next_cursor: rows.length > limit ? items[items.length - 1]!.id : null };
    },
  };
}
