/**
 * Role assignments in PostgreSQL, and the organisation-wide roles they give
 * (inherited roles expanded).
 */
import { NotFoundError } from '../../errors.ts';
import { decodeCursor } from '../cursor.ts';
import type { RoleAssignment } from '../schemas.ts';
import type { CatalogStore } from '../store.ts';
import { iso, toPage, translate, type CatalogContext, type Row } from './common.ts';

const assignment = (r: Row): RoleAssignment => ({
  id: r.id,
  principal_id: r.principal_id,
  role_id: r.role_id,
  project_id: r.project_id ?? null,
  created_by: r.created_by ?? null,
  created_at: iso(r.created_at),
});

/** The store's role assignment methods. */
export function roleAssignmentStatements(ctx: CatalogContext): Pick<CatalogStore, 'assignRole' | 'listRoleAssignments' | 'removeRoleAssignment' | 'orgRolesOf' | 'anyActiveHolderOf'> {
  const { sql, deps } = ctx;
  return {
    async assignRole(input, createdBy) {
      const rows = await sql`
        INSERT INTO role_assignments (id, principal_id, role_id, project_id, created_by)
        VALUES (${deps.ids()}, ${input.principal_id}, ${input.role_id}, ${input.project_id ?? null}, ${createdBy})
        RETURNING *`.catch((e) => translate(e, 'Role assignment'));
      return assignment(rows[0]!);
    },
    async listRoleAssignments({ limit, cursor, principalId }) {
      const after = decodeCursor(cursor);
      const rows = await sql`
        SELECT * FROM role_assignments
        WHERE true ${principalId ? sql`AND principal_id = ${principalId}` : sql``} ${after ? sql`AND id > ${after}::uuid` : sql``}
        ORDER BY id LIMIT ${limit + 1}`.catch((e) => translate(e, 'Cursor'));
      return toPage(rows.map(assignment), limit);
    },
    async removeRoleAssignment(id) {
      const rows = await sql`DELETE FROM role_assignments WHERE id = ${id} RETURNING *`.catch((e) => translate(e, 'Role assignment'));
      if (!rows[0]) throw new NotFoundError(`Role assignment ${id}`);
      return assignment(rows[0]);
    },
    async orgRolesOf(principalId) {
      const rows = await sql`
        WITH RECURSIVE r(role_id) AS (
          SELECT role_id FROM role_assignments WHERE principal_id = ${principalId} AND project_id IS NULL
          UNION
          SELECT i.parent_id FROM role_inherits i JOIN r ON i.role_id = r.role_id
        ) SELECT role_id FROM r ORDER BY role_id`;
      return rows.map((r) => r.role_id as string);
    },
    async anyActiveHolderOf(roleId) {
      const [hit] = await sql`
        WITH RECURSIVE down(id) AS (
          SELECT ${roleId}::text UNION SELECT i.role_id FROM role_inherits i JOIN down ON i.parent_id = down.id
        )
        SELECT 1 AS hit FROM role_assignments a JOIN principals p ON p.id = a.principal_id
        WHERE a.role_id IN (SELECT id FROM down) AND a.project_id IS NULL AND p.status = 'active' LIMIT 1`;
      return Boolean(hit);
    },
  };
}
