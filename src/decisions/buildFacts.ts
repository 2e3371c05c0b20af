/**
 * Rows of the catalog turned into the engine's facts. The facts held in
 * memory (liveFacts.ts) and the ones read from the database when memory
 * cannot be trusted (postgres/index.ts) are built by these same functions,
 * so the two paths cannot disagree on what a row means.
 */
import { deriveClassification } from '../catalog/classification.ts';
import type { IdentifierCategory } from '../catalog/identifiers.ts';
import { columnCategories } from '../engine/columns.ts';
import type { BaaFacts, ColumnFacts, DatasetFacts, GrantFacts, PrincipalFacts, RoleBinding } from '../engine/types.ts';

/** Grants that ended longer ago than this are left out of the facts (they can no longer explain a refusal usefully). */
export const GRANT_HISTORY_MS = 86_400_000;

/** A principal as stored, with its role assignments and its active grants. */
export interface PrincipalRecord {
  id: string;
  kind: 'user' | 'service';
  status: 'active' | 'disabled';
  projectId: string | null;
  vendorId: string | null;
  sponsorId: string | null;
  attributes: Record<string, unknown>;
  roles: readonly RoleBinding[];
  /** Grants with status active that had not ended a day before they were read. */
  grants: readonly GrantFacts[];
}

/** A dataset as stored: what its classification is derived from. */
export interface DatasetRecord {
  id: string;
  project: string;
  owner: string;
  purposes: string[];
  columns: { name: string; category?: IdentifierCategory | undefined }[];
  expertDetermination: { determinedOn: string; expiresOn: string } | null;
  dataUseAgreement: { signedOn: string; expiresOn: string } | null;
  audience: string | null;
}

/** Grants that had not ended `GRANT_HISTORY_MS` before `now` (the same array when none is older). */
export function recentGrants(grants: readonly GrantFacts[], now: number): readonly GrantFacts[] {
  const cutoff = now - GRANT_HISTORY_MS;
  return grants.every((g) => g.expiresAt > cutoff) ? grants : grants.filter((g) => g.expiresAt > cutoff);
}

/**
 * The engine's facts of a principal. Projects are its own project, then the
 * projects of its role assignments, each once; `sponsor` is the sponsor's
 * facts for a service (undefined for a person, or a sponsor not found).
 */
export function principalFacts(r: PrincipalRecord, baas: readonly BaaFacts[], now: number, sponsor: PrincipalFacts | undefined): PrincipalFacts {
  const projects = new Set<string>();
  if (r.projectId) projects.add(r.projectId);
  for (const b of r.roles) if (b.project) projects.add(b.project);
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    projects: [...projects],
    vendorId: r.vendorId,
    baas: baas as BaaFacts[],
    attributes: r.attributes,
    roles: r.roles as RoleBinding[],
    grants: recentGrants(r.grants, now) as GrantFacts[],
    sponsor,
  };
}

/** The engine's facts of a dataset, its classification derived on `today` (UTC `YYYY-MM-DD`). */
export function datasetFacts(d: DatasetRecord, today: string): DatasetFacts {
  const derived = deriveClassification({ columns: d.columns, expertDetermination: d.expertDetermination, dataUseAgreement: d.dataUseAgreement }, today);
  const columns = d.columns.map((c): ColumnFacts => ({ name: c.name, category: c.category }));
  return {
    id: d.id,
    project: d.project,
    owner: d.owner,
    classification: derived.classification,
    purposes: d.purposes,
    columns,
    columnCategories: columnCategories(columns),
    audience: d.audience ?? `urn:custos:dataset:${d.id}`,
  };
}
