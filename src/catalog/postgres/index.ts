/**
 * PostgreSQL implementation of the catalog. Every write names its columns
 * explicitly (no `sql(body)` mass assignment); PostgreSQL errors become
 * domain errors here, so no SQL text ever reaches a client.
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import { AudienceTakenError, ConflictError, NotFoundError, ValidationError } from '../../errors.ts';
import { deriveClassification, utcDate } from '../classification.ts';
import type { IdentifierCategory } from '../identifiers.ts';
import type { Baa, Dataset, Page, Principal, Project, Role, RoleAssignment, Vendor } from '../schemas.ts';
import type { CatalogStore } from '../store.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';

type Row = Record<string, any>;

function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, next_cursor: rows.length > limit ? encodeCursor(items[items.length - 1]!.id) : null };
}

const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : new Date(d).toISOString());

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
function translate(err: unknown, what: string): never {
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

/**
 * Builds the catalog store over a postgres.js client, or over a transaction
 * (see `withTx`): there a multi-statement write becomes a savepoint, since
 * postgres.js opens no transaction inside another.
 */
export function createCatalogStore(sql: Sql, deps: { clock: Clock; ids: IdGenerator }, inTx = false): CatalogStore {
  const today = () => utcDate(deps.clock.now());
  const atomic = (fn: (tx: Sql) => Promise<unknown>): Promise<unknown> =>
    inTx ? (sql as unknown as Tx).savepoint((tx) => fn(tx as unknown as Sql)) : sql.begin((tx) => fn(tx as unknown as Sql));

  const project = (r: Row): Project => ({ id: r.id, name: r.name, description: r.description, created_at: iso(r.created_at), updated_at: iso(r.updated_at) });

  const baa = (r: Row): Baa => {
    const t = today();
    return {
      id: r.id,
      vendor_id: r.vendor_id,
      reference: r.reference,
      effective_on: r.effective_on,
      expires_on: r.expires_on,
      purposes: r.purposes,
      classifications: r.classifications,
      active: r.effective_on <= t && t < r.expires_on,
      created_at: iso(r.created_at),
    };
  };

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

  const role = (r: Row): Role => ({
    id: r.id,
    description: r.description,
    inherits: (r.inherits ?? []).filter(Boolean).sort(),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  });

  const assignment = (r: Row): RoleAssignment => ({
    id: r.id,
    principal_id: r.principal_id,
    role_id: r.role_id,
    project_id: r.project_id ?? null,
    created_by: r.created_by ?? null,
    created_at: iso(r.created_at),
  });

  const dataset = (r: Row): Dataset => {
    const ed = r.expert_determination as Dataset['expert_determination'];
    const dua = r.data_use_agreement as Dataset['data_use_agreement'];
    const columns = r.columns as { name: string; type: string; category?: IdentifierCategory }[];
    const derived = deriveClassification(
      {
        columns,
        expertDetermination: ed ? { determinedOn: ed.determined_on, expiresOn: ed.expires_on } : null,
        dataUseAgreement: dua ? { signedOn: dua.signed_on, expiresOn: dua.expires_on } : null,
      },
      today(),
    );
    return {
      id: r.id,
      project_id: r.project_id,
      owner_id: r.owner_id,
      description: r.description,
      purposes: r.purposes,
      columns,
      expert_determination: ed ?? null,
      data_use_agreement: dua ?? null,
      audience: r.audience ?? `urn:custos:dataset:${r.id}`,
      classification: derived.classification,
      classification_basis: derived.basis,
      identifier_categories: derived.identifierCategories,
      created_at: iso(r.created_at),
      updated_at: iso(r.updated_at),
    };
  };

  const BAA_COLS = sql`id, vendor_id, reference, effective_on::text AS effective_on, expires_on::text AS expires_on, purposes, classifications, created_at`;
  const ROLE_SELECT = sql`SELECT r.*, coalesce((SELECT array_agg(parent_id) FROM role_inherits i WHERE i.role_id = r.id), '{}') AS inherits FROM roles r`;

  async function vendorWithBaas(r: Row): Promise<Vendor> {
    const baas = await sql`SELECT ${BAA_COLS} FROM baas WHERE vendor_id = ${r.id} ORDER BY effective_on, id`;
    return { id: r.id, name: r.name, created_at: iso(r.created_at), updated_at: iso(r.updated_at), baas: baas.map(baa) };
  }

  async function one<T>(rows: Row[], what: string, map: (r: Row) => T): Promise<T> {
    if (!rows[0]) throw new NotFoundError(what);
    return map(rows[0]);
  }

  async function checkSponsor(sponsorId: string): Promise<void> {
    const [s] = await sql`SELECT kind, status FROM principals WHERE id = ${sponsorId}`;
    if (!s || s.kind !== 'user' || s.status !== 'active') {
      throw new ValidationError('The sponsor must be an active person.', [{ path: 'body.sponsor_id', message: 'not an active user' }]);
    }
  }

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
    withTx(tx) {
      return createCatalogStore(tx as unknown as Sql, deps, true);
    },

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

    async createVendor(input) {
      const rows = await sql`INSERT INTO vendors (id, name) VALUES (${input.id}, ${input.name}) RETURNING *`.catch((e) =>
        translate(e, `Vendor ${input.id}`),
      );
      return vendorWithBaas(rows[0]!);
    },
    async getVendor(id) {
      const [r] = await sql`SELECT * FROM vendors WHERE id = ${id}`;
      if (!r) throw new NotFoundError(`Vendor ${id}`);
      return vendorWithBaas(r);
    },
    async listVendors({ limit, cursor }) {
      const after = decodeCursor(cursor);
      const rows = await sql`SELECT * FROM vendors ${after ? sql`WHERE id > ${after}` : sql``} ORDER BY id LIMIT ${limit + 1}`;
      return toPage(await Promise.all(rows.map(vendorWithBaas)), limit);
    },
    async updateVendor(id, input) {
      const [r] = await sql`UPDATE vendors SET name = ${input.name}, updated_at = now() WHERE id = ${id} RETURNING *`;
      if (!r) throw new NotFoundError(`Vendor ${id}`);
      return vendorWithBaas(r);
    },
    async addBaa(vendorId, input) {
      await this.getVendor(vendorId);
      const rows = await sql`
        INSERT INTO baas (id, vendor_id, reference, effective_on, expires_on, purposes, classifications)
        VALUES (${deps.ids()}, ${vendorId}, ${input.reference}, ${input.effective_on}, ${input.expires_on},
                ${input.purposes}, ${input.classifications})
        RETURNING ${BAA_COLS}`.catch((e) => translate(e, 'BAA'));
      return baa(rows[0]!);
    },

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
    async listPrincipals({ limit, cursor }) {
      const after = decodeCursor(cursor);
      const rows = await sql`SELECT * FROM principals ${after ? sql`WHERE id > ${after}::uuid` : sql``} ORDER BY id LIMIT ${limit + 1}`.catch((e) =>
        translate(e, 'Cursor'),
      );
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

    async createDataset(input) {
      const rows = await sql`
        INSERT INTO datasets (id, project_id, owner_id, description, purposes, columns, expert_determination, data_use_agreement, audience)
        VALUES (${input.id}, ${input.project_id}, ${input.owner_id}, ${input.description ?? ''}, ${input.purposes},
                ${sql.json(input.columns)}, ${input.expert_determination ? sql.json(input.expert_determination) : null},
                ${input.data_use_agreement ? sql.json(input.data_use_agreement) : null}, ${input.audience ?? null})
        RETURNING *`.catch((e) => translate(e, `Dataset ${input.id}`));
      return dataset(rows[0]!);
    },
    async getDataset(id) {
      return one(await sql`SELECT * FROM datasets WHERE id = ${id}`, `Dataset ${id}`, dataset);
    },
    async listDatasets({ limit, cursor, projectId }) {
      const after = decodeCursor(cursor);
      const rows = await sql`
        SELECT * FROM datasets
        WHERE true ${projectId ? sql`AND project_id = ${projectId}` : sql``} ${after ? sql`AND id > ${after}` : sql``}
        ORDER BY id LIMIT ${limit + 1}`;
      return toPage(rows.map(dataset), limit);
    },
    async updateDataset(id, input) {
      const json = <T>(v: T | null | undefined, col: string) => (v === undefined ? sql(col) : v === null ? null : sql.json(v as never));
      const rows = await sql`
        UPDATE datasets SET
          owner_id = coalesce(${input.owner_id ?? null}::uuid, owner_id),
          description = coalesce(${input.description ?? null}, description),
          purposes = coalesce(${input.purposes ?? null}::text[], purposes),
          columns = ${json(input.columns, 'columns')},
          expert_determination = ${json(input.expert_determination, 'expert_determination')},
          data_use_agreement = ${json(input.data_use_agreement, 'data_use_agreement')},
          audience = coalesce(${input.audience ?? null}, audience),
          updated_at = now()
        WHERE id = ${id} RETURNING *`.catch((e) => translate(e, `Dataset ${id}`));
      return one(rows, `Dataset ${id}`, dataset);
    },
  };
}
