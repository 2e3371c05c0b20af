/**
 * PostgreSQL facts for decisions: principal with roles, grants, vendor BAAs
 * and sponsor; dataset with derived classification.
 */
import { deriveClassification, utcDate } from '../../catalog/classification.ts';
import type { Sql } from '../../db/client.ts';
import type { DatasetFacts, PrincipalFacts } from '../../engine/types.ts';
import type { FactsStore } from '../facts.ts';

type Row = Record<string, any>;

/** Builds the facts store. */
export function createFactsStore(sql: Sql): FactsStore {
  async function principal(id: string, now: Date, depth: number): Promise<PrincipalFacts | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const [p] = await sql`SELECT id, kind, status, project_id, vendor_id, sponsor_id, attributes FROM principals WHERE id = ${id}`;
    if (!p) return undefined;
    const [roles, grants, baas] = await Promise.all([
      sql`SELECT role_id, project_id FROM role_assignments WHERE principal_id = ${id}`,
      // Grants that have not ended; the engine decides activity against the request's now.
      sql`SELECT id, role_id, project_id, dataset_id, not_before, expires_at, break_glass FROM grants
          WHERE principal_id = ${id} AND status = 'active' AND expires_at > ${new Date(now.getTime() - 86_400_000)}`,
      p.vendor_id
        ? sql`SELECT id, effective_on::text AS effective_on, expires_on::text AS expires_on, purposes, classifications FROM baas WHERE vendor_id = ${p.vendor_id}`
        : Promise.resolve([] as Row[]),
    ]);
    const projects = new Set<string>();
    if (p.project_id) projects.add(p.project_id);
    for (const r of roles) if (r.project_id) projects.add(r.project_id);
    const sponsor = p.kind === 'service' && p.sponsor_id && depth === 0 ? await principal(p.sponsor_id, now, 1) : undefined;
    return {
      id: p.id,
      kind: p.kind,
      status: p.status,
      projects: [...projects],
      vendorId: p.vendor_id ?? null,
      baas: baas.map((b: Row) => ({ id: b.id, effectiveOn: b.effective_on, expiresOn: b.expires_on, purposes: b.purposes, classifications: b.classifications })),
      attributes: p.attributes ?? {},
      roles: roles.map((r: Row) => ({ role: r.role_id, project: r.project_id ?? null })),
      grants: grants.map((g: Row) => ({
        id: g.id,
        role: g.role_id,
        project: g.project_id ?? null,
        datasetId: g.dataset_id ?? null,
        notBefore: new Date(g.not_before).getTime(),
        expiresAt: new Date(g.expires_at).getTime(),
        breakGlass: g.break_glass,
      })),
      sponsor,
    };
  }

  return {
    principal: (id, now) => principal(id, now, 0),
    async dataset(id, now) {
      const [d] = await sql`SELECT id, project_id, owner_id, purposes, columns, expert_determination, data_use_agreement, audience FROM datasets WHERE id = ${id}`;
      if (!d) return undefined;
      const ed = d.expert_determination;
      const dua = d.data_use_agreement;
      const derived = deriveClassification(
        {
          columns: d.columns,
          expertDetermination: ed ? { determinedOn: ed.determined_on, expiresOn: ed.expires_on } : null,
          dataUseAgreement: dua ? { signedOn: dua.signed_on, expiresOn: dua.expires_on } : null,
        },
        utcDate(now),
      );
      const facts: DatasetFacts = {
        id: d.id,
        project: d.project_id,
        owner: d.owner_id,
        classification: derived.classification,
        purposes: d.purposes,
        columns: (d.columns as { name: string; category?: string }[]).map((c) => ({ name: c.name, category: c.category })),
        audience: d.audience ?? `urn:custos:dataset:${d.id}`,
      };
      return facts;
    },
  };
}
