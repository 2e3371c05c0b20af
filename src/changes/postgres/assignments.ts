/**
 * Role assignments in PostgreSQL, inside a dual-control transaction.
 * Integrity errors become domain errors naming the request's fields.
 */
import type { IdGenerator } from '../../clock.ts';
import type { Tx } from '../../db/client.ts';
import { ConflictError, ValidationError } from '../../errors.ts';
import type { AssignmentRow, ChangeTx } from '../store.ts';

type Row = Record<string, any>;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** The request field behind each foreign key. */
const FK_FIELDS: Record<string, string> = {
  role_assignments_principal_id_fkey: 'body.principal_id',
  role_assignments_role_id_fkey: 'body.role_id',
  role_assignments_project_id_fkey: 'body.project_id',
};

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

/** The transaction's assignment methods. */
export function assignmentStatements(tx: Tx, ids: IdGenerator): Pick<ChangeTx, 'assign' | 'checkAssignable' | 'assignment' | 'unassign'> {
  return {
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
  };
}
