/**
 * Projects in PostgreSQL.
 */
import { decodeCursor } from '../cursor.ts';
import type { Project } from '../schemas.ts';
import type { CatalogStore } from '../store.ts';
import { iso, one, toPage, translate, type CatalogContext, type Row } from './common.ts';

const project = (r: Row): Project => ({ id: r.id, name: r.name, description: r.description, created_at: iso(r.created_at), updated_at: iso(r.updated_at) });

/** The store's project methods. */
export function projectStatements(ctx: CatalogContext): Pick<CatalogStore, 'createProject' | 'getProject' | 'listProjects' | 'updateProject'> {
  const { sql } = ctx;
  return {
    async createProject(input) {
      const rows = await sql`
        INSERT INTO projects (id, name, description) VALUES (${input.id}, ${input.name}, ${input.description ?? ''})
        RETURNING *`.catch((e) => translate(e, `Project ${input.id}`));
      return project(rows[0]!);
    },
    async getProject(id) {
      return one(await sql`SELECT * FROM projects WHERE id = ${id}`, `Project ${id}`, project);
    },
    async listProjects({ limit, cursor }) {
      const after = decodeCursor(cursor);
      const rows = await sql`SELECT * FROM projects ${after ? sql`WHERE id > ${after}` : sql``} ORDER BY id LIMIT ${limit + 1}`;
      return toPage(rows.map(project), limit);
    },
    async updateProject(id, input) {
      const rows = await sql`
        UPDATE projects SET
          name = coalesce(${input.name ?? null}, name),
          description = coalesce(${input.description ?? null}, description),
          updated_at = now()
        WHERE id = ${id} RETURNING *`;
      return one(rows, `Project ${id}`, project);
    },
  };
}
