/**
 * PostgreSQL store of pending changes (migrations/0018) and the role-graph
 * reads and writes that dual control makes inside one transaction. Columns
 * are named explicitly; integrity errors become domain errors here.
 */
import { secretHoldersOf } from '../../auth/postgres/secrets.ts';
import type { IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import { ConflictError, ValidationError } from '../../errors.ts';
import { policyDigest } from '../../policy/store.ts';
import type { AssignmentRow, ChangeStore, ChangeTx, PendingChange } from '../store.ts';

type Row = Record<string, any>;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** One fixed key for pg_advisory_xact_lock: "the role graph". */
const ROLE_GRAPH_LOCK = 0x637573746f73; // "custos"

const FK_FIELDS: Record<string, string> = {
  role_assignments_principal_id_fkey: 'body.principal_id',
  role_assignments_role_id_fkey: 'body.role_id',
  role_assignments_project_id_fkey: 'body.project_id',
};

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

function toAssignment(r: Row): AssignmentRow {
  return { id: r.id, principal_id: r.principal_id, role_id: r.role_id, project_id: r.project_id ?? null, created_by: r.created_by ?? null, created_at: iso(r.created_at)! };
}

/** Maps integrity violations of an assignment to domain errors; anything else is rethrown. */
function translateAssignment(err: unknown): never {
  const e = err as { code?: string; constraint_name?: string };
  if (e.code === '23505') throw new ConflictError('Role assignment already exists.');
  if (e.code === '23503') throw new ValidationError('Role assignment refers to something that does not exist.', [{ path: FK_FIELDS[e.constraint_name ?? ''] ?? 'body', message: 'unknown reference' }]);
  throw err;
}

function bind(tx: Tx, ids: IdGenerator): ChangeTx {
  const t: ChangeTx = {
    tx,
    async lockRoleGraph() {
      await tx`SELECT pg_advisory_xact_lock(${ROLE_GRAPH_LOCK})`;
    },
    async role(id) {
      const [r] = await tx`
        SELECT r.id, r.description, coalesce((SELECT array_agg(parent_id ORDER BY parent_id) FROM role_inherits i WHERE i.role_id = r.id), '{}') AS inherits
        FROM roles r WHERE r.id = ${id}`;
      return r ? { id: r.id, description: r.description, inherits: r.inherits } : undefined;
    },
    async closureWith(roleId, parents) {
      const rows = await tx`
        WITH RECURSIVE up(id) AS (
          SELECT unnest(${[...parents]}::text[]) UNION SELECT i.parent_id FROM role_inherits i JOIN up ON i.role_id = up.id
        ) SELECT id FROM up`;
      return [roleId, ...rows.map((r) => r.id as string)];
    },
    async enrolled(principalId) {
      const [r] = await tx`SELECT 1 AS yes FROM passwords WHERE principal_id = ${principalId}`;
      return r !== undefined;
    },
    secretHoldersOf: (principalId, at) => secretHoldersOf(tx, principalId, at),
    async holdersOf(roleId, at) {
      const rows = await tx`
        WITH RECURSIVE down(id) AS (
          SELECT ${roleId}::text UNION SELECT i.role_id FROM role_inherits i JOIN down ON i.parent_id = down.id
        )
        SELECT principal_id FROM role_assignments WHERE role_id IN (SELECT id FROM down)
        UNION
        SELECT principal_id FROM grants WHERE role_id IN (SELECT id FROM down) AND status = 'active' AND not_before <= ${at} AND expires_at > ${at}`;
      return rows.map((r) => r.principal_id as string);
    },
    async rolesOf(principalIds, at) {
      const out = new Map<string, string[]>();
      if (principalIds.length === 0) return out;
      const rows = await tx`
        WITH RECURSIVE held(principal_id, role_id) AS (
          SELECT principal_id, role_id FROM role_assignments WHERE principal_id = ANY(${[...principalIds]}::uuid[])
          UNION
          SELECT principal_id, role_id FROM grants
          WHERE principal_id = ANY(${[...principalIds]}::uuid[]) AND status = 'active' AND not_before <= ${at} AND expires_at > ${at}
          UNION
          SELECT held.principal_id, i.parent_id FROM role_inherits i JOIN held ON i.role_id = held.role_id
        ) SELECT principal_id, array_agg(role_id) AS roles FROM held GROUP BY principal_id`;
      for (const r of rows) out.set(r.principal_id, r.roles);
      return out;
    },
    async checkInherits(roleId, parents) {
      for (const p of new Set(parents)) {
        if (p === roleId) throw new ValidationError('A role cannot inherit itself.', [{ path: 'body.inherits', message: `${p} is this role` }]);
        if (!(await t.role(p))) throw new ValidationError(`Role ${p} refers to something that does not exist.`, [{ path: 'body.inherits', message: 'unknown reference' }]);
        // A cycle: `roleId` is already among what `p` inherits.
        const [cycle] = await tx`
          WITH RECURSIVE up(id) AS (
            SELECT ${p}::text UNION SELECT i.parent_id FROM role_inherits i JOIN up ON i.role_id = up.id
          ) SELECT 1 AS hit FROM up WHERE id = ${roleId}`;
        if (cycle) throw new ConflictError(`Inheriting ${p} would create a cycle.`);
      }
    },
    async updateRole(id, next) {
      await t.checkInherits(id, next.inherits);
      await tx`UPDATE roles SET description = ${next.description}, updated_at = now() WHERE id = ${id}`;
      await tx`DELETE FROM role_inherits WHERE role_id = ${id}`;
      for (const p of new Set(next.inherits)) await tx`INSERT INTO role_inherits (role_id, parent_id) VALUES (${id}, ${p})`;
    },
    async insertRole(input) {
      await tx`INSERT INTO roles (id, description) VALUES (${input.id}, ${input.description})`.catch((e: { code?: string }) => {
        if (e.code === '23505') throw new ConflictError(`Role ${input.id} already exists.`);
        throw e;
      });
      await t.checkInherits(input.id, input.inherits);
      for (const p of new Set(input.inherits)) await tx`INSERT INTO role_inherits (role_id, parent_id) VALUES (${input.id}, ${p})`;
    },
    async assign(input, createdBy) {
      const [r] = await tx`
        INSERT INTO role_assignments (id, principal_id, role_id, project_id, created_by)
        VALUES (${ids()}, ${input.principal_id}, ${input.role_id}, ${input.project_id}, ${createdBy})
        RETURNING *`.catch(translateAssignment);
      return toAssignment(r!);
    },
    async checkAssignable(input) {
      const [r] = await tx`
        SELECT EXISTS (SELECT 1 FROM principals WHERE id = ${input.principal_id}) AS principal,
               EXISTS (SELECT 1 FROM roles WHERE id = ${input.role_id}) AS role,
               (${input.project_id}::text IS NULL OR EXISTS (SELECT 1 FROM projects WHERE id = ${input.project_id})) AS project,
               EXISTS (SELECT 1 FROM role_assignments WHERE principal_id = ${input.principal_id} AND role_id = ${input.role_id}
                       AND project_id IS NOT DISTINCT FROM ${input.project_id}) AS taken`;
      for (const f of ['principal', 'role', 'project'] as const) {
        if (!r![f]) throw new ValidationError('Role assignment refers to something that does not exist.', [{ path: `body.${f}_id`, message: 'unknown reference' }]);
      }
      if (r!.taken) throw new ConflictError('Role assignment already exists.');
    },
    async assignment(id) {
      const [r] = await tx`SELECT * FROM role_assignments WHERE id = ${id}`;
      return r ? toAssignment(r) : undefined;
    },
    async unassign(id) {
      const [r] = await tx`DELETE FROM role_assignments WHERE id = ${id} RETURNING *`;
      return r ? toAssignment(r) : undefined;
    },
    async latestPolicyVersion() {
      const [r] = await tx`SELECT coalesce(max(version), 0)::int AS v FROM policy_versions`;
      return r!.v as number;
    },
    async insertPolicyVersion(v) {
      const digest = policyDigest(v.documents, v.tests);
      const [r] = await tx`
        INSERT INTO policy_versions (version, documents, tests, digest, author_id, created_at, comment, rollback_of)
        SELECT ${v.basedOn + 1}, ${tx.json(v.documents)}, ${tx.json(v.tests)}, ${digest}, ${v.authorId}, ${v.at}, ${v.comment}, ${v.rollbackOf}
        WHERE (SELECT coalesce(max(version), 0) FROM policy_versions) = ${v.basedOn}
        ON CONFLICT (version) DO NOTHING
        RETURNING version, digest`;
      return r ? { version: r.version as number, digest: r.digest as string } : undefined;
    },
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
  return t;
}

/** Builds the pending-change store. */
export function createChangeStore(sql: Sql, deps: { ids: IdGenerator }): ChangeStore {
  return {
    begin: (fn) => sql.begin((tx) => fn(bind(tx as unknown as Tx, deps.ids))) as never,
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
