/**
 * PostgreSQL facts for decisions, read at the moment of asking: principal
 * with roles, grants, vendor BAAs and sponsor; dataset with derived
 * classification. The path taken whenever the facts in memory cannot be
 * trusted (liveFacts.ts), and by reviews that must read fresh rows.
 */
import { utcDate } from '../../catalog/classification.ts';
import type { Sql } from '../../db/client.ts';
import type { PrincipalFacts } from '../../engine/types.ts';
import { datasetFacts, GRANT_HISTORY_MS, principalFacts } from '../buildFacts.ts';
import type { FactsStore } from '../facts.ts';
import { baaFacts, datasetRecord, grantFacts, principalRecord, roleBinding } from './catalogRows.ts';

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
          WHERE principal_id = ${id} AND status = 'active' AND expires_at > ${new Date(now.getTime() - GRANT_HISTORY_MS)}`,
      p.vendor_id
        ? sql`SELECT id, effective_on::text AS effective_on, expires_on::text AS expires_on, purposes, classifications FROM baas WHERE vendor_id = ${p.vendor_id}`
        : Promise.resolve([]),
    ]);
    const sponsor = p.kind === 'service' && p.sponsor_id && depth === 0 ? await principal(p.sponsor_id, now, 1) : undefined;
    return principalFacts(principalRecord(p, roles.map(roleBinding), grants.map(grantFacts)), baas.map(baaFacts), now.getTime(), sponsor);
  }

  return {
    principal: (id, now) => principal(id, now, 0),
    async dataset(id, now) {
      const [d] = await sql`SELECT id, project_id, owner_id, purposes, columns, expert_determination, data_use_agreement, audience FROM datasets WHERE id = ${id}`;
      return d ? datasetFacts(datasetRecord(d), utcDate(now)) : undefined;
    },
  };
}
