/**
 * Principals (people and services) in PostgreSQL. A service's sponsor must
 * be an active person.
 */
import { NotFoundError, ValidationError } from '../../errors.ts';
import { decodeCursor } from '../cursor.ts';
import type { Principal } from '../schemas.ts';
import type { CatalogStore } from '../store.ts';
import { iso, one, toPage, translate, type CatalogContext, type Row } from './common.ts';

const principal = (r: Row): Principal => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  display_name: r.display_name,
  email: r.email ?? null,
  status: r.status,
  sponsor_id: r.sponsor_id ?? null,
  project_id: r.project_id ?? null,
  vendor_id: r.vendor_id ?? null,
  attributes: r.attributes ?? {},
  created_at: iso(r.created_at),
  updated_at: iso(r.updated_at),
});

/** The store's principal methods. */
export function principalStatements(ctx: CatalogContext): Pick<CatalogStore, 'createPrincipal' | 'getPrincipal' | 'lockPrincipal' | 'findPrincipalByName' | 'listPrincipals' | 'listSponsoredBy' | 'updatePrincipal'> {
  const { sql, deps } = ctx;

  async function checkSponsor(sponsorId: string): Promise<void> {
    const [s] = await sql`SELECT kind, status FROM principals WHERE id = ${sponsorId}`;
    if (!s || s.kind !== 'user' || s.status !== 'active') {
      throw new ValidationError('The sponsor must be an active person.', [{ path: 'body.sponsor_id', message: 'not an active user' }]);
    }
  }

  return {
    async createPrincipal(input) {
      if (input.kind === 'service') await checkSponsor(input.sponsor_id);
      const rows = await sql`
        INSERT INTO principals (id, kind, name, display_name, email, sponsor_id, project_id, vendor_id, attributes)
        VALUES (${deps.ids()}, ${input.kind}, ${input.name}, ${input.display_name ?? ''},
                ${input.kind === 'user' ? (input.email ?? null) : null},
                ${input.kind === 'service' ? input.sponsor_id : null},
                ${input.kind === 'service' ? input.project_id : null},
                ${input.vendor_id ?? null}, ${sql.json(input.attributes ?? {})})
        RETURNING *`.catch((e) => translate(e, `Principal ${input.name}`));
      return principal(rows[0]!);
    },
    async getPrincipal(id) {
      return one(await sql`SELECT * FROM principals WHERE id = ${id}`.catch((e) => translate(e, 'Principal')), `Principal ${id}`, principal);
    },
    async lockPrincipal(id) {
      return one(await sql`SELECT * FROM principals WHERE id = ${id} FOR UPDATE`.catch((e) => translate(e, 'Principal')), `Principal ${id}`, principal);
    },
    async findPrincipalByName(name) {
      const [r] = await sql`SELECT * FROM principals WHERE name = ${name}`;
      return r ? principal(r) : undefined;
    },
    async listPrincipals({ limit, cursor, name }) {
      const after = decodeCursor(cursor);
      // starts_with, not LIKE: the text is matched as written (`%` and `_` are ordinary characters).
      const rows = await sql`
        SELECT * FROM principals
        WHERE ${after ? sql`id > ${after}::uuid` : sql`TRUE`} ${name ? sql`AND starts_with(lower(name), lower(${name}))` : sql``}
        ORDER BY id LIMIT ${limit + 1}`.catch((e) => translate(e, 'Cursor'));
      return toPage(rows.map(principal), limit);
    },
    async listSponsoredBy(sponsorId, { limit, cursor }) {
      const after = decodeCursor(cursor);
      const rows = await sql`
        SELECT * FROM principals WHERE sponsor_id = ${sponsorId} ${after ? sql`AND id > ${after}::uuid` : sql``}
        ORDER BY id LIMIT ${limit + 1}`.catch((e) => translate(e, 'Cursor'));
      return toPage(rows.map(principal), limit);
    },
    async updatePrincipal(id, input) {
      if (input.sponsor_id !== undefined) {
        const [p] = await sql`SELECT kind FROM principals WHERE id = ${id}`.catch((e) => translate(e, 'Principal'));
        if (!p) throw new NotFoundError(`Principal ${id}`);
        if (p.kind !== 'service') throw new ValidationError('Only services have a sponsor.', [{ path: 'body.sponsor_id', message: 'not a service' }]);
        await checkSponsor(input.sponsor_id);
      }
      const rows = await sql`
        UPDATE principals SET
          display_name = coalesce(${input.display_name ?? null}, display_name),
          sponsor_id = coalesce(${input.sponsor_id ?? null}::uuid, sponsor_id),
          email = ${input.email === undefined ? sql`email` : input.email},
          status = coalesce(${input.status ?? null}, status),
          attributes = ${input.attributes === undefined ? sql`attributes` : sql.json(input.attributes)},
          updated_at = now()
        WHERE id = ${id} RETURNING *`.catch((e) => translate(e, 'Principal'));
      return one(rows, `Principal ${id}`, principal);
    },
  };
}
