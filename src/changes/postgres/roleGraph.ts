/**
 * The role graph in PostgreSQL, as dual control reads and edits it inside
 * one transaction: roles, their inheritance, and who holds them (by
 * assignment or active grant). Edits refuse unknown parents and cycles.
 */
import type { Tx } from '../../db/client.ts';
import { ConflictError, ValidationError } from '../../errors.ts';
import type { ChangeTx } from '../store.ts';

/** One fixed key for pg_advisory_xact_lock: "the role graph". */
const ROLE_GRAPH_LOCK = 0x637573746f73; // "custos"

/** The transaction's role-graph methods. */
export function roleGraphStatements(tx: Tx): Pick<ChangeTx, 'lockRoleGraph' | 'role' | 'closureWith' | 'holdersOf' | 'rolesOf' | 'checkInherits' | 'updateRole' | 'insertRole'> {
  const t: ReturnType<typeof roleGraphStatements> = {
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
  };
  return t;
}
