/**
 * The catalog rows decisions are made on, read whole (a consistent image,
 * at start and after every loss of the listener) or by key (after a change
 * notification).
 */
import type { IdentifierCategory } from '../../catalog/identifiers.ts';
import type { Sql } from '../../db/client.ts';
import type { BaaFacts, GrantFacts, RoleBinding } from '../../engine/types.ts';
import { GRANT_HISTORY_MS, type DatasetRecord, type PrincipalRecord } from '../buildFacts.ts';
import type { CatalogImage, CatalogKeys, CatalogSource } from '../liveFacts.ts';
import { transaction } from '../../db/transaction.ts';

type Row = Record<string, any>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const PRINCIPAL_COLUMNS = 'id, kind, status, project_id, vendor_id, sponsor_id, attributes';
const GRANT_COLUMNS = 'id, principal_id, role_id, project_id, dataset_id, not_before, expires_at, break_glass';
const BAA_COLUMNS = 'id, vendor_id, effective_on::text AS effective_on, expires_on::text AS expires_on, purposes, classifications';
const DATASET_COLUMNS = 'id, project_id, owner_id, purposes, columns, expert_determination, data_use_agreement, audience';

export function roleBinding(r: Row): RoleBinding {
  return { role: r.role_id, project: r.project_id ?? null };
}

export function grantFacts(g: Row): GrantFacts {
  return {
    id: g.id,
    role: g.role_id,
    project: g.project_id ?? null,
    datasetId: g.dataset_id ?? null,
    notBefore: new Date(g.not_before).getTime(),
    expiresAt: new Date(g.expires_at).getTime(),
    breakGlass: g.break_glass,
  };
}

export function baaFacts(b: Row): BaaFacts {
  return { id: b.id, effectiveOn: b.effective_on, expiresOn: b.expires_on, purposes: b.purposes, classifications: b.classifications };
}

export function principalRecord(p: Row, roles: readonly RoleBinding[], grants: readonly GrantFacts[]): PrincipalRecord {
  return {
    id: p.id,
    kind: p.kind,
    status: p.status,
    projectId: p.project_id ?? null,
    vendorId: p.vendor_id ?? null,
    sponsorId: p.sponsor_id ?? null,
    attributes: p.attributes ?? {},
    roles,
    grants,
  };
}

export function datasetRecord(d: Row): DatasetRecord {
  const ed = d.expert_determination;
  const dua = d.data_use_agreement;
  return {
    id: d.id,
    project: d.project_id,
    owner: d.owner_id,
    purposes: d.purposes,
    columns: (d.columns as { name: string; category?: IdentifierCategory }[]).map((c) => ({ name: c.name, category: c.category })),
    expertDetermination: ed ? { determinedOn: ed.determined_on, expiresOn: ed.expires_on } : null,
    dataUseAgreement: dua ? { signedOn: dua.signed_on, expiresOn: dua.expires_on } : null,
    audience: d.audience ?? null,
  };
}

function groupBy<T>(rows: readonly Row[], key: string, map: (r: Row) => T): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = r[key] as string;
    const list = out.get(k);
    if (list) list.push(map(r));
    else out.set(k, [map(r)]);
  }
  return out;
}

const NONE: readonly never[] = Object.freeze([]);

function principalsOf(rows: readonly Row[], roleRows: readonly Row[], grantRows: readonly Row[]): Map<string, PrincipalRecord> {
  const roles = groupBy(roleRows, 'principal_id', roleBinding);
  const grants = groupBy(grantRows, 'principal_id', grantFacts);
  return new Map(rows.map((p) => [p.id as string, principalRecord(p, roles.get(p.id) ?? NONE, grants.get(p.id) ?? NONE)]));
}

/** Reads the catalog's facts in one repeatable-read snapshot, so the image is consistent. */
export async function loadCatalogImage(sql: Sql, now: Date): Promise<CatalogImage> {
  const since = new Date(now.getTime() - GRANT_HISTORY_MS);
  return transaction(sql, 'isolation level repeatable read read only', async (tx) => {
    const principals = await tx.unsafe(`SELECT ${PRINCIPAL_COLUMNS} FROM principals`);
    const roles = await tx`SELECT principal_id, role_id, project_id FROM role_assignments`;
    const grants = await tx.unsafe(`SELECT ${GRANT_COLUMNS} FROM grants WHERE status = 'active' AND expires_at > $1`, [since]);
    const baas = await tx.unsafe(`SELECT ${BAA_COLUMNS} FROM baas`);
    const datasets = await tx.unsafe(`SELECT ${DATASET_COLUMNS} FROM datasets`);
    return {
      principals: principalsOf(principals, roles, grants),
      baas: groupBy(baas, 'vendor_id', baaFacts),
      datasets: new Map(datasets.map((d) => [d.id as string, datasetRecord(d)])),
    };
  });
}

/** Reads the rows of some principals (with roles and grants), vendors (their BAAs) and datasets, in one snapshot. */
export async function loadCatalogRows(sql: Sql, keys: CatalogKeys, now: Date): Promise<CatalogImage> {
  const since = new Date(now.getTime() - GRANT_HISTORY_MS);
  return transaction(sql, 'isolation level repeatable read read only', async (tx) => {
    // A principal key that is not a uuid names no principal (and must not fail the cast for the others).
    const p = keys.principals.filter((id) => UUID.test(id));
    const principals = p.length ? await tx.unsafe(`SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE id = ANY($1::uuid[])`, [p]) : [];
    const roles = p.length ? await tx`SELECT principal_id, role_id, project_id FROM role_assignments WHERE principal_id = ANY(${p}::uuid[])` : [];
    const grants = p.length
      ? await tx.unsafe(`SELECT ${GRANT_COLUMNS} FROM grants WHERE principal_id = ANY($1::uuid[]) AND status = 'active' AND expires_at > $2`, [p, since])
      : [];
    const baas = keys.vendors.length ? await tx.unsafe(`SELECT ${BAA_COLUMNS} FROM baas WHERE vendor_id = ANY($1::text[])`, [keys.vendors]) : [];
    const datasets = keys.datasets.length ? await tx.unsafe(`SELECT ${DATASET_COLUMNS} FROM datasets WHERE id = ANY($1::text[])`, [keys.datasets]) : [];
    return {
      principals: principalsOf(principals, roles, grants),
      baas: groupBy(baas, 'vendor_id', baaFacts),
      datasets: new Map(datasets.map((d) => [d.id as string, datasetRecord(d)])),
    };
  });
}

/** The catalog source of the facts in memory. */
export function catalogSource(sql: Sql): CatalogSource {
  return { loadAll: (now) => loadCatalogImage(sql, now), load: (keys, now) => loadCatalogRows(sql, keys, now) };
}
