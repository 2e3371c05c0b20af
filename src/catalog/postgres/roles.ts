/**
 * Roles and their inheritance in PostgreSQL. Inheritance edits are
 * serialised, so no two of them can close a cycle between them.
 */
import { ConflictError, NotFoundError, ValidationError } from '../../errors.ts';
import type { Sql } from '../../db/client.ts';
import { decodeCursor } from '../cursor.ts';
import type { Role } from '../schemas.ts';
import type { CatalogStore } from '../store.ts';
import { iso, one, toPage, translate, type CatalogContext, type Row } from './common.ts';

const role = (r: Row): Role => ({
  id: r.id,
  description: r.description,
  inherits: (r.inherits ?? []).filter(Boolean).sort(),
  created_at: iso(r.created_at),
  updated_at: iso(r.updated_at),
});

/** The store's role methods. */
export function roleStatements(ctx: CatalogContext): Pick<CatalogStore, 'createRole' | 'getRole' | 'listRoles' | 'updateRole'> {
  const { sql, atomic } = ctx;

  const ROLE_SELECT = sql`SELECT r.*, coalesce((SELECT array_agg(parent_id) FROM role_inherits i WHERE i.role_id = r.id), '{}') AS inherits FROM roles r`;

  async function setInherits(tx: Sql, roleId: string, parents: string[]): Promise<void> {
    // Serialise inheritance edits so two concurrent edits cannot close a cycle between them.
    await tx`LOCK TABLE role_inherits IN SHARE ROW EXCLUSIVE MODE`;
    await tx`DELETE FROM role_inherits WHERE role_id = ${roleId}`;
    for (const p of new Set(parents)) {
      if (p === roleId) throw new ValidationError('A role cannot inherit itself.', [{ path: 'body.inherits', message: `${p} is this role` }]);
      const [cycle] = await tx`
        WITH RECURSIVE up(id) AS (
          SELECT ${p}::text UNION SELECT i.parent_id FROM role_inherits i JOIN up ON i.role_id = up.id
        ) SELECT 1 AS hit FROM up WHERE id = ${roleId}`;
      if (cycle) throw new ConflictError(`Inheriting ${p} would create a cycle.`);
      await tx`INSERT INTO role_inherits (role_id, parent_id) VALUES (${roleId}, ${p})`.catch((e) => translate(e, `Role ${p}`));
    }
  }

  return {
    async createRole(input) {
      await atomic(async (tx) => {
        await tx`INSERT INTO roles (id, description) VALUES (${input.id}, ${input.description ?? ''})`.catch((e) => translate(e, `Role ${input.id}`));
        await setInherits(tx, input.id, input.inherits ?? []);
      });
      return this.getRole(input.id);
    },
    async getRole(id) {
      return one(await sql`${ROLE_SELECT} WHERE r.id = ${id}`, `Role ${id}`, role);
    },
    async listRoles({ limit, cursor }) {
      const after = decodeCursor(cursor);
      const rows = await sql`${ROLE_SELECT} ${after ? sql`WHERE r.id > ${after}` : sql``} ORDER BY r.id LIMIT ${limit + 1}`;
      return toPage(rows.map(role), limit);
    },
    async updateRole(id, input) {
      await atomic(async (tx) => {
        const rows = await tx`
          UPDATE roles SET description = coalesce(${input.description ?? null}, description), updated_at = now()
          WHERE id = ${id} RETURNING id`;
        if (!rows[0]) throw new NotFoundError(`Role ${id}`);
        if (input.inherits) await setInherits(tx, id, input.inherits);
      });
      return this.getRole(id);
    },
  };
}
