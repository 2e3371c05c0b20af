/**
 * Reach: what a principal can read right now, and who can read a dataset
 * right now, computed from the policy in force and the live facts (not the
 * log). `audit:read` or `catalog:read` reads anyone's; a person may read
 * their own. Each read is an `audit.report` event.
 */
import { z } from 'zod';
import * as S from '../../catalog/schemas.ts';
import { readDatasetReach, readPrincipalReach, type Reach } from '../../decisions/readReach.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const ReachItem = z.object({
  principal_id: z.string(),
  dataset_id: z.string(),
  purpose: z.string(),
  columns: z.array(z.string()).describe('exactly the columns a decision for this principal, dataset and purpose grants'),
  rules: z.array(z.string()).describe('the deciding allow rules'),
  roles: z.array(z.string()).describe('the roles held that carry them'),
  basis: z.enum(['standing', 'grant', 'break-glass']),
  grant_ids: z.array(z.string()).describe('the grants relied on (empty: standing access)'),
  until: z.string().nullable().describe('the earliest expiry of the grants relied on; null for standing access'),
  obligations: z.array(z.record(z.string(), z.unknown())),
});
const ReachBody = z.object({ at: z.string(), policy_version: z.string(), items: z.array(ReachItem) });

function bodyOf(r: Reach): z.infer<typeof ReachBody> {
  return {
    at: r.at.toISOString(),
    policy_version: r.policyVersion,
    items: r.rows.map((x) => ({
      principal_id: x.principalId,
      dataset_id: x.datasetId,
      purpose: x.purpose,
      columns: x.columns,
      rules: x.rules,
      roles: x.roles,
      basis: x.basis,
      grant_ids: x.grantIds,
      until: x.until === null ? null : new Date(x.until).toISOString(),
      obligations: x.obligations,
    })),
  };
}

/** GET /v1/principals/:id/access and GET /v1/datasets/:id/access. */
export function accessRoutes(deps: AppDeps): AnyRoute[] {
  const reach = { catalog: deps.catalog, facts: deps.decisions.facts, policy: deps.decisions.policy, clock: deps.clock, audit: deps.audit };
  return [
    defineRoute({
      method: 'get',
      path: '/v1/principals/:id/access',
      summary: 'What a principal can read now: datasets, columns and purposes, with the rules, roles and grants relied on',
      tag: 'audit',
      // The permission check is the operation's: anyone's with audit:read or catalog:read, or one's own.
      auth: { kind: 'session' },
      params: z.strictObject({ id: z.uuid() }),
      responses: { 200: { description: 'One item per dataset and purpose with a column the principal can read', schema: ReachBody } },
      handler: async ({ params, auth, meta }) => ({ body: bodyOf(await readPrincipalReach(reach, auth!, params.id, meta)) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/datasets/:id/access',
      summary: 'Who can read a dataset now (optionally only its identifier columns)',
      tag: 'audit',
      auth: { kind: 'session' },
      params: z.strictObject({ id: S.DatasetId }),
      query: z.strictObject({ identifiers: z.enum(['true', 'false']).default('false').describe('true: only principals who can read an identifier column, listing those columns') }),
      responses: { 200: { description: 'One item per principal and purpose with a column it can read', schema: ReachBody } },
      handler: async ({ params, query, auth, meta }) => ({ body: bodyOf(await readDatasetReach(reach, auth!, params.id, query.identifiers === 'true', meta)) }),
    }),
  ];
}
