/**
 * The catalog's admin API: projects, vendors and BAAs, principals and
 * datasets. Reads need `catalog:read`; writes need `catalog:write`. Each
 * write is a schema plus one operation of src/catalog (or src/auth) that
 * commits the change with its audit event. Roles and role assignments are in
 * roles.ts (dual control).
 */
import { z } from 'zod';
import type { RequestMeta } from '../../audit/log.ts';
import { createClientCredential } from '../../auth/clients/clientCredentials.ts';
import { listClientCredentials } from '../../auth/clients/listClientCredentials.ts';
import { revokeClientCredential } from '../../auth/clients/revokeClientCredential.ts';
import { addBaa } from '../../catalog/addBaa.ts';
import { createEntry } from '../../catalog/createEntry.ts';
import { createPrincipal } from '../../catalog/createPrincipal.ts';
import { revokeSessions } from '../../catalog/revokeSessions.ts';
import * as S from '../../catalog/schemas.ts';
import { updateEntry } from '../../catalog/updateEntry.ts';
import { updatePrincipal } from '../../catalog/updatePrincipal.ts';
import { requestEnrollment } from '../../changes/requestEnrollment.ts';
import type { AppDeps } from '../deps.ts';
import { Change, pendingAnswer } from './changes.ts';
import { defineRoute, type AnyRoute, type RouteAuth } from '../route.ts';
import { CredentialBody, CredentialList, IssuedCredential } from './credentialSchemas.ts';

const read = { kind: 'permission', permission: 'catalog:read' } as const;
const write = { kind: 'permission', permission: 'catalog:write' } as const;
const SlugParams = z.strictObject({ id: S.Slug });
const UuidParams = z.strictObject({ id: z.uuid() });

/**
 * The four routes every catalog collection has: list, create, get, update.
 * Each resource supplies its schemas and store calls.
 */
function collection<C, U, Item extends z.ZodType, L extends S.PageRequest = S.PageRequest>(o: {
  path: string;
  tag: string;
  name: string;
  item: Item;
  params: z.ZodType<{ id: string }>;
  create: z.ZodType<C>;
  update: z.ZodType<U>;
  createdItem?: z.ZodType;
  /** Who may create and update (default: catalog:write). */
  writeAuth?: RouteAuth;
  /** The list's query: pagination, and the collection's own filters (default: pagination only). */
  listQuery?: z.ZodType<L>;
  list: (page: L) => Promise<S.Page<unknown>>;
  get: (id: string) => Promise<unknown>;
  /** Operations that commit the change with its audit event (src/catalog, src/auth). */
  add: (body: C, actor: string, meta: RequestMeta) => Promise<unknown>;
  patch: (id: string, body: U, actor: string, meta: RequestMeta) => Promise<unknown>;
}): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: o.path,
      summary: `List ${o.name}s`,
      tag: o.tag,
      auth: read,
      query: o.listQuery ?? (S.PageQuery as unknown as z.ZodType<L>),
      responses: { 200: { description: `A page of ${o.name}s`, schema: S.page(o.item) } },
      handler: async ({ query }) => ({ body: await o.list(query) }),
    }),
    defineRoute({
      method: 'post',
      path: o.path,
      summary: `Create a ${o.name}`,
      tag: o.tag,
      auth: o.writeAuth ?? write,
      body: o.create,
      responses: { 201: { description: 'Created', schema: o.createdItem ?? o.item }, 409: { description: 'Already exists' } },
      handler: async ({ body, auth, meta }) => ({ status: 201, body: await o.add(body, auth!.principalId, meta) }),
    }),
    defineRoute({
      method: 'get',
      path: `${o.path}/:id`,
      summary: `Get a ${o.name}`,
      tag: o.tag,
      auth: read,
      params: o.params,
      responses: { 200: { description: o.name, schema: o.item }, 404: { description: 'Not found' } },
      handler: async ({ params }) => ({ body: await o.get(params.id) }),
    }),
    defineRoute({
      method: 'patch',
      path: `${o.path}/:id`,
      summary: `Update a ${o.name}`,
      tag: o.tag,
      auth: o.writeAuth ?? write,
      params: o.params,
      body: o.update,
      responses: { 200: { description: 'Updated', schema: o.item }, 404: { description: 'Not found' } },
      handler: async ({ params, body, auth, meta }) => ({ body: await o.patch(params.id, body, auth!.principalId, meta) }),
    }),
  ];
}

/** All catalog routes. */
export function catalogRoutes(deps: AppDeps): AnyRoute[] {
  const c = deps.catalog;
  const ch = deps.catalogOps;
  return [
    ...collection({
      path: '/v1/projects',
      tag: 'projects',
      name: 'project',
      item: S.Project,
      params: SlugParams,
      create: S.ProjectCreate,
      update: S.ProjectUpdate,
      list: (p) => c.listProjects(p),
      get: (id) => c.getProject(id),
      add: (body, actorId, meta) => createEntry(ch, { kind: 'project', body, actorId, meta }),
      patch: (id, body, actorId, meta) => updateEntry(ch, { kind: 'project', id, body, actorId, meta }),
    }),
    ...collection({
      path: '/v1/vendors',
      tag: 'vendors',
      name: 'vendor',
      item: S.Vendor,
      params: SlugParams,
      create: S.VendorCreate,
      update: S.VendorUpdate,
      list: (p) => c.listVendors(p),
      get: (id) => c.getVendor(id),
      add: (body, actorId, meta) => createEntry(ch, { kind: 'vendor', body, actorId, meta }),
      patch: (id, body, actorId, meta) => updateEntry(ch, { kind: 'vendor', id, body, actorId, meta }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/vendors/:id/baas',
      summary: "Record a vendor's business associate agreement",
      tag: 'vendors',
      auth: { ...write, stepUp: true },
      params: SlugParams,
      body: S.BaaCreate,
      responses: { 201: { description: 'Recorded', schema: S.Baa } },
      handler: async ({ params, body, auth, meta }) => ({ status: 201, body: await addBaa(ch, { vendorId: params.id, body, actorId: auth!.principalId, meta }) }),
    }),
    ...collection({
      path: '/v1/principals',
      tag: 'principals',
      name: 'principal',
      // Creating people (with enrollment secrets) and changing status or attributes are sensitive.
      writeAuth: { ...write, stepUp: true },
      item: S.Principal,
      createdItem: S.PrincipalCreated,
      params: UuidParams,
      create: S.PrincipalCreate,
      update: S.PrincipalUpdate,
      // `name`: find people and services by the start of their name (the console's principal pickers).
      listQuery: S.PrincipalListQuery,
      list: (p) => c.listPrincipals(p),
      get: (id) => c.getPrincipal(id),
      // A new person receives a one-time enrollment secret, shown only in this answer.
      add: (body, actorId, meta) => createPrincipal(ch, { body, actorId, meta }),
      // Disabling ends every session; a new sponsor revokes the service's credentials.
      patch: (id, body, actorId, meta) => updatePrincipal(ch, { id, body, actorId, meta }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/principals/:id/enrollment',
      summary: 'Issue a new one-time enrollment secret for a person; for someone already enrolled (a recovery) it waits for a second administrator',
      tag: 'principals',
      auth: { ...write, stepUp: true },
      params: UuidParams,
      responses: {
        201: { description: 'Issued; shown once', schema: z.object({ secret: z.string(), expires_at: z.string() }) },
        202: { description: 'A recovery: held for a second administrator, who receives the secret on approval', schema: Change, headers: ['Location'] },
      },
      handler: async ({ params, auth, meta }) => {
        // Whoever holds a recovery secret can become the person: no one alone (src/changes/requestEnrollment.ts).
        const r = await requestEnrollment(deps.changes, { auth: auth!, meta, principalId: params.id });
        if (r.status === 'pending') return pendingAnswer(r.change, deps.clock.now());
        return { status: 201, body: r.enrollment };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/principals/:id/credentials',
      summary: "Create client credentials for a service principal you sponsor (secret shown once); anyone else is refused",
      tag: 'principals',
      auth: { ...write, stepUp: true },
      params: UuidParams,
      // No body: a generated secret (client_secret_basic). {"jwks": {...}}: the client's public keys (private_key_jwt).
      body: CredentialBody,
      responses: {
        201: { description: 'Created (a generated secret is shown once)', schema: IssuedCredential },
        403: { description: '`not_sponsor`: only the service\'s sponsor receives its credentials' },
      },
      handler: async ({ params, body, auth, meta }) => ({
        status: 201,
        body: await createClientCredential(ch, { principalId: params.id, actorId: auth!.principalId, meta, ...(body.jwks ? { jwks: body.jwks } : {}) }),
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/principals/:id/credentials',
      summary: "List a service principal's client credentials (never the secrets)",
      tag: 'principals',
      auth: read,
      params: UuidParams,
      responses: { 200: { description: 'Credentials', schema: CredentialList } },
      handler: async ({ params }) => ({ body: { items: await listClientCredentials(ch, { principalId: params.id }) } }),
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/principals/:id/credentials/:credential',
      summary: 'Revoke a client credential at once',
      tag: 'principals',
      auth: { ...write, stepUp: true },
      params: z.strictObject({ id: z.uuid(), credential: z.uuid() }),
      responses: { 204: { description: 'Revoked' } },
      handler: async ({ params, auth, meta }) => {
        await revokeClientCredential(ch, { principalId: params.id, credentialId: params.credential, actorId: auth!.principalId, meta });
        return { status: 204 };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/principals/:id/sessions/revoke',
      summary: "End every session of a principal at once",
      tag: 'principals',
      auth: { kind: 'permission', permission: 'catalog:write', stepUp: true },
      params: UuidParams,
      responses: { 200: { description: 'Sessions ended', schema: z.object({ revoked: z.number().int() }) } },
      handler: async ({ params, auth, meta }) => ({ body: await revokeSessions(ch, { principalId: params.id, actorId: auth!.principalId, meta }) }),
    }),
    ...collection({
      path: '/v1/datasets',
      tag: 'datasets',
      name: 'dataset',
      // A dataset's columns and records decide its classification: changing them can open PHI.
      writeAuth: { ...write, stepUp: true },
      item: S.Dataset,
      params: z.strictObject({ id: S.DatasetId }),
      create: S.DatasetCreate,
      update: S.DatasetUpdate,
      list: (p) => c.listDatasets(p),
      get: (id) => c.getDataset(id),
      add: (body, actorId, meta) => createEntry(ch, { kind: 'dataset', body, actorId, meta }),
      patch: (id, body, actorId, meta) => updateEntry(ch, { kind: 'dataset', id, body, actorId, meta }),
    }),
  ];
}
