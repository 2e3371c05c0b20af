/**
 * Which datasets a resource server serves, as part of the catalog API: read
 * with `catalog:read`; set with `catalog:write` and a fresh second factor
 * (it widens what that server may learn through introspection), with its
 * audit event in the same transaction.
 */
import { z } from 'zod';
import { DatasetId } from '../../catalog/schemas.ts';
import { setServedDatasets } from '../../tokens/setServedDatasets.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const Params = z.strictObject({ id: z.uuid() });
const Served = z.object({ principal_id: z.string(), datasets: z.array(z.string()) });

/** Routes of `/v1/principals/:id/served-datasets`. */
export function resourceServerRoutes(deps: AppDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/principals/:id/served-datasets',
      summary: 'The datasets a resource server serves (its introspection and revocation reach only their tokens)',
      tag: 'principals',
      auth: { kind: 'permission', permission: 'catalog:read' },
      params: Params,
      responses: { 200: { description: 'The list (empty: the server sees no token)', schema: Served } },
      handler: async ({ params }) => {
        // A principal that does not exist is a 404, not an empty list.
        await deps.catalog.getPrincipal(params.id);
        return { body: { principal_id: params.id, datasets: await deps.tokens.resourceServers.served(params.id) } };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/v1/principals/:id/served-datasets',
      summary: 'Replace the datasets a resource server serves (step-up; audited with the change)',
      tag: 'principals',
      auth: { kind: 'permission', permission: 'catalog:write', stepUp: true },
      params: Params,
      body: z.strictObject({
        datasets: z
          .array(DatasetId)
          .max(1000)
          .refine((d) => new Set(d).size === d.length, 'each dataset at most once'),
      }),
      responses: { 200: { description: 'The list now in force, and the one before', schema: Served.extend({ before: z.array(z.string()) }) } },
      handler: async ({ params, body, auth, meta }) => ({
        body: await setServedDatasets({ resourceServers: deps.tokens.resourceServers, audit: deps.audit }, { principalId: params.id, datasets: body.datasets, actorId: auth!.principalId, meta }),
      }),
    }),
  ];
}
