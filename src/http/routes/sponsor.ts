/**
 * A sponsor's own services: the only place a service's client credentials
 * are delivered. Any full session may call these routes, but only for
 * services it sponsors (403 `not_sponsor` otherwise); creating and revoking
 * need a second factor within the step-up window. An administrator who
 * creates a service for someone else therefore never holds its secret or
 * a key that yields its tokens (docs/security-model.md, "no one alone").
 */
import { z } from 'zod';
import { createClientCredential } from '../../auth/clients/clientCredentials.ts';
import { listClientCredentials } from '../../auth/clients/listClientCredentials.ts';
import { revokeClientCredential } from '../../auth/clients/revokeClientCredential.ts';
import * as S from '../../catalog/schemas.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';
import { CredentialBody, CredentialList, IssuedCredential } from './credentialSchemas.ts';
import { must } from './shared.ts';

const own = { kind: 'session', stepUp: true } as const;

/** The sponsor's routes under /v1/me/services: their services and those services' credentials. */
export function sponsorRoutes(deps: AppDeps): AnyRoute[] {
  // Each operation refuses anyone but the service's sponsor (src/auth/clients/assertSponsor.ts).
  return [
    defineRoute({
      method: 'get',
      path: '/v1/me/services',
      summary: 'List the services you sponsor',
      tag: 'me',
      auth: { kind: 'session' },
      query: S.PageQuery,
      responses: { 200: { description: 'A page of services', schema: S.page(S.Principal) } },
      handler: async ({ query, auth }) => ({ body: await deps.catalog.listSponsoredBy(must(auth).principalId, query) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/me/services/:id/credentials',
      summary: 'Create client credentials for a service you sponsor (a generated secret is shown once)',
      tag: 'me',
      auth: own,
      params: z.strictObject({ id: z.uuid() }),
      body: CredentialBody,
      responses: { 201: { description: 'Created', schema: IssuedCredential }, 403: { description: '`not_sponsor`: you do not sponsor this service' } },
      handler: async ({ params, body, auth, meta }) => ({
        status: 201,
        body: await createClientCredential(deps.catalogOps, { principalId: params.id, actorId: must(auth).principalId, meta, ...(body.jwks ? { jwks: body.jwks } : {}) }),
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/me/services/:id/credentials',
      summary: "List the credentials of a service you sponsor (never the secrets)",
      tag: 'me',
      auth: { kind: 'session' },
      params: z.strictObject({ id: z.uuid() }),
      responses: { 200: { description: 'Credentials', schema: CredentialList }, 403: { description: '`not_sponsor`' } },
      handler: async ({ params, auth }) => ({ body: { items: await listClientCredentials(deps.catalogOps, { principalId: params.id, sponsorId: must(auth).principalId }) } }),
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/me/services/:id/credentials/:credential',
      summary: 'Revoke a credential of a service you sponsor, at once',
      tag: 'me',
      auth: own,
      params: z.strictObject({ id: z.uuid(), credential: z.uuid() }),
      responses: { 204: { description: 'Revoked' }, 403: { description: '`not_sponsor`' } },
      handler: async ({ params, auth, meta }) => {
        await revokeClientCredential(deps.catalogOps, { principalId: params.id, credentialId: params.credential, actorId: must(auth).principalId, meta, sponsorOnly: true });
        return { status: 204 };
      },
    }),
  ];
}
