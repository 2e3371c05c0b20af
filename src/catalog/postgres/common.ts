/**
 * What the catalog's PostgreSQL files share: the context each aggregate's
 * statements run over, pages, the not-found check, and the mapping of
 * integrity violations to domain errors (so no SQL text reaches a client).
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql } from '../../db/client.ts';
import { AudienceTakenError, ConflictError, NotFoundError, ValidationError } from '../../errors.ts';
import { encodeCursor } from '../cursor.ts';
import type { Page } from '../schemas.ts';

/** A row as postgres.js returns it: untyped until mapped. */
export type Row = Record<string, any>;

/** What each aggregate's statements run over (see `createCatalogStore`). */
export interface CatalogContext {
  /** The client, or the transaction the store is bound to. */
  sql: Sql;
  deps: { clock: Clock; ids: IdGenerator };
  /** Today's date (UTC, YYYY-MM-DD) by the injected clock. */
  today: () => string;
  /** Runs a multi-statement write in its own transaction, or in a savepoint of the one the store is bound to. */
  atomic: (fn: (tx: Sql) => Promise<unknown>) => Promise<unknown>;
}

/** One page of `limit` items, and the cursor of the next when a further row was read. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, next_cursor: rows.length > limit ? encodeCursor(items[items.length - 1]!.id) : null };
}

/** A timestamp as ISO 8601. */
export const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : new Date(d).toISOString());

/** The request field behind each foreign key. */
const FK_FIELDS: Record<string, string> = {
  datasets_owner_id_fkey: 'body.owner_id',
  datasets_project_id_fkey: 'body.project_id',
  principals_sponsor_id_fkey: 'body.sponsor_id',
  principals_project_id_fkey: 'body.project_id',
  principals_vendor_id_fkey: 'body.vendor_id',
  role_assignments_principal_id_fkey: 'body.principal_id',
  role_assignments_role_id_fkey: 'body.role_id',
  role_assignments_project_id_fkey: 'body.project_id',
  role_inherits_parent_id_fkey: 'body.inherits',
  baas_vendor_id_fkey: 'params.id',
};

/** Maps integrity violations to domain errors; anything else is rethrown. */
export function translate(err: unknown, what: string): never {
  const e = err as { code?: string; constraint_name?: string; column_name?: string };
  // The audience in force (configured or urn:custos:dataset:<id>) is unique (migration 0015).
  if (e.code === '23505' && e.constraint_name === 'datasets_audience_key') throw new AudienceTakenError({ what });
  if (e.code === '23505') throw new ConflictError(`${what} already exists.`);
  // Field paths, not constraint names: the schema is not the client's business.
  const field = e.column_name ? `body.${e.column_name}` : (FK_FIELDS[e.constraint_name ?? ''] ?? 'body');
  if (e.code === '23503') throw new ValidationError(`${what} refers to something that does not exist.`, [{ path: field, message: 'unknown reference' }]);
  if (e.code === '23514') throw new ValidationError(`${what} is not valid.`, [{ path: field, message: 'not an allowed value' }]);
  if (e.code === '22P02') throw new ValidationError(`${what} is not valid.`, [{ path: 'body', message: 'malformed value' }]);
  throw err;
}

/** The mapped first row; NotFoundError naming `what` when there is none. */
export async function one<T>(rows: Row[], what: string, map: (r: Row) => T): Promise<T> {
  if (!rows[0]) throw new NotFoundError(what);
  return map(rows[0]);
}
