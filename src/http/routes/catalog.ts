/**
 * The catalog's admin API: projects, vendors and BAAs, principals, roles,
 * role assignments and datasets. Reads need `catalog:read`; writes need
 * `catalog:write` (role assignments: `roles:assign`).
 */
import { z } from 'zod';
import type { RequestMeta } from '../../audit/log.ts';
import { createClientCredential } from '../../auth/clientCredentials.ts';
import { issueEnrollment } from '../../auth/enrollment.ts';
import * as S from '../../catalog/schemas.ts';
import { ForbiddenError, NotFoundError, UnavailableError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute, type RouteAuth } from '../route.ts';

const read = { kind: 'permission', permission: 'catalog:read' } as const;
const write = { kind: 'permission', permission: 'catalog:write' } as const;
const SlugParams = z.strictObject({ id: S.Slug });
const UuidParams = z.strictObject({ id: z.uuid() });

/**
 * The four routes every catalog collection has: list, create, get, update.
 * Each resource supplies its schemas and store calls.
 */
function collection<C, U, Item extends z.ZodType>(deps: AppDeps, o: {
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
  list: (page: S.PageRequest) => Promise<S.Page<unknown>>;
  get: (id: string) => Promise<unknown>;
  add: (body: C, actor: string, meta: RequestMeta) => Promise<unknown>;
  patch: (id: string, body: U) => Promise<unknown>;
}): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: o.path,
      summary: `List ${o.name}s`,
      tag: o.tag,
      auth: read,
      query: S.PageQuery,
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
      handler: async ({ body, auth, meta }) => {
        const created = (await o.add(body, auth!.principalId, meta)) as { id: string };
        await deps.audit.record({ type: `catalog.${o.name}.created`, outcome: 'success', actorId: auth!.principalId, meta, details: { id: created.id, after: body as Record<string, unknown> } });
        return { status: 201, body: created };
      },
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
      handler: async ({ params, body, auth, meta }) => {
        const before = await o.get(params.id);
        const after = await o.patch(params.id, body);
        await deps.audit.record({ type: `catalog.${o.name}.updated`, outcome: 'success', actorId: auth!.principalId, meta, details: { id: params.id, before, after } });
        return { body: after };
      },
    }),
  ];
}

/** All catalog routes. */
export function catalogRoutes(deps: AppDeps): AnyRoute[] {
  const c = deps.catalog;
  /** After a role-graph change: this replica recompiles now (others on NOTIFY); a failure is reported, not hidden. */
  const reloadPolicy = async () => {
    const r = await deps.decisions.policy.reload();
    if (!r.ok) throw new UnavailableError({ reason: 'policy reload after a role change failed', error: r.error });
  };
  return [
    ...collection(deps, {
      path: '/v1/projects',
      tag: 'projects',
      name: 'project',
      item: S.Project,
      params: SlugParams,
      create: S.ProjectCreate,
      update: S.ProjectUpdate,
      list: (p) => c.listProjects(p),
      get: (id) => c.getProject(id),
      add: (b) => c.createProject(b),
      patch: (id, b) => c.updateProject(id, b),
    }),
    ...collection(deps, {
      path: '/v1/vendors',
      tag: 'vendors',
      name: 'vendor',
      item: S.Vendor,
      params: SlugParams,
      create: S.VendorCreate,
      update: S.VendorUpdate,
      list: (p) => c.listVendors(p),
      get: (id) => c.getVendor(id),
      add: (b) => c.createVendor(b),
      patch: (id, b) => c.updateVendor(id, b),
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
      handler: async ({ params, body, auth, meta }) => {
        const baa = await c.addBaa(params.id, body);
        await deps.audit.record({ type: 'catalog.baa.created', outcome: 'success', actorId: auth!.principalId, meta, details: { vendor_id: params.id, after: baa } });
        return { status: 201, body: baa };
      },
    }),
    ...collection(deps, {
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
      list: (p) => c.listPrincipals(p),
      get: (id) => c.getPrincipal(id),
      add: async (b, actor, meta) => {
        const p = await c.createPrincipal(b);
        // A new person receives a one-time enrollment secret, shown only in this answer.
        if (p.kind !== 'user') return p;
        // The secret and its `enrollment.issued` event commit together (issueEnrollment records it).
        const enrollment = await issueEnrollment(deps.auth, { principalId: p.id, actorId: actor, meta });
        return { ...p, enrollment };
      },
      patch: async (id, b) => {
        const p = await c.updatePrincipal(id, b);
        // Disabling ends every session at once; re-enabling later does not revive them.
        if (b.status === 'disabled') await deps.auth.store.revokeAllSessions(id, deps.clock.now());
        return p;
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/principals/:id/enrollment',
      summary: 'Issue a new one-time enrollment secret (new password and factor) for a person',
      tag: 'principals',
      auth: { ...write, stepUp: true },
      params: UuidParams,
      responses: { 201: { description: 'Issued; shown once', schema: z.object({ secret: z.string(), expires_at: z.string() }) } },
      handler: async ({ params, auth, meta }) => {
        if (params.id === auth!.principalId) throw new ForbiddenError('You cannot issue an enrollment secret for yourself.');
        // Revokes the person's earlier unused secrets; the secret and its event commit together.
        const issued = await issueEnrollment(deps.auth, { principalId: params.id, actorId: auth!.principalId, meta });
        return { status: 201, body: issued };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/principals/:id/credentials',
      summary: 'Create client credentials for a service principal (secret shown once)',
      tag: 'principals',
      auth: { ...write, stepUp: true },
      params: UuidParams,
      // No body: a generated secret (client_secret_basic). {"jwks": {...}}: the client's public keys (private_key_jwt).
      body: z.strictObject({ jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) }).optional() }),
      responses: {
        201: {
          description: 'Created (a generated secret is shown once)',
          schema: z.object({ credential_id: z.string(), client_id: z.string(), client_secret: z.string().optional(), token_endpoint_auth_method: z.enum(['client_secret_basic', 'private_key_jwt']) }),
        },
      },
      handler: async ({ params, body, auth, meta }) => ({
        status: 201,
        body: await createClientCredential(deps.auth, { principalId: params.id, createdBy: auth!.principalId, meta, ...(body.jwks ? { jwks: body.jwks } : {}) }),
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/principals/:id/credentials',
      summary: "List a service principal's client credentials (never the secrets)",
      tag: 'principals',
      auth: read,
      params: UuidParams,
      responses: { 200: { description: 'Credentials', schema: z.object({ items: z.array(z.object({ id: z.string(), client_id: z.string(), created_at: z.string(), revoked_at: z.string().nullable() })) }) } },
      handler: async ({ params }) => ({ body: { items: await deps.auth.clients.list(params.id) } }),
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
        if (!(await deps.auth.clients.revoke(params.credential, params.id, deps.clock.now()))) throw new NotFoundError(`Credential ${params.credential}`);
        await deps.audit.record({ type: 'client_credential.revoked', outcome: 'success', actorId: auth!.principalId, subjectId: params.id, meta, details: { credential_id: params.credential } });
        return { status: 204 };
      },
    }),
    ...collection(deps, {
      path: '/v1/roles',
      tag: 'roles',
      name: 'role',
      // Changing what a role inherits is a role change: same gate as assigning one.
      writeAuth: { kind: 'permission', permission: 'roles:assign', stepUp: true },
      item: S.Role,
      params: SlugParams,
      create: S.RoleCreate,
      update: S.RoleUpdate,
      list: (p) => c.listRoles(p),
      get: (id) => c.getRole(id),
      // The role graph is part of the policy snapshot: recompile after a change.
      add: async (b) => {
        const r = await c.createRole(b);
        await reloadPolicy();
        return r;
      },
      patch: async (id, b) => {
        const r = await c.updateRole(id, b);
        await reloadPolicy();
        return r;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/role-assignments',
      summary: 'List role assignments',
      tag: 'roles',
      auth: read,
      query: S.RoleAssignmentQuery,
      responses: { 200: { description: 'A page of assignments', schema: S.page(S.RoleAssignment) } },
      handler: async ({ query }) => ({ body: await c.listRoleAssignments({ limit: query.limit, cursor: query.cursor, principalId: query.principal_id }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/role-assignments',
      summary: 'Assign a role to a principal, in a project or organisation-wide',
      tag: 'roles',
      auth: { kind: 'permission', permission: 'roles:assign', stepUp: true },
      body: S.RoleAssignmentCreate,
      responses: { 201: { description: 'Assigned', schema: S.RoleAssignment }, 403: { description: 'Assigning yourself' } },
      handler: async ({ body, auth, meta }) => {
        // Separation of duties: nobody widens their own access.
        if (body.principal_id === auth!.principalId) {
          await deps.audit.record({ type: 'role.assigned', outcome: 'failure', actorId: auth!.principalId, subjectId: body.principal_id, meta, details: { role_id: body.role_id, project_id: body.project_id ?? null, reason: 'self-assignment' } });
          throw new ForbiddenError('You cannot assign a role to yourself.');
        }
        const a = await c.assignRole(body, auth!.principalId);
        await deps.audit.record({ type: 'role.assigned', outcome: 'success', actorId: auth!.principalId, subjectId: body.principal_id, meta, details: { assignment: a } });
        return { status: 201, body: a };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/role-assignments/:id',
      summary: 'Remove a role assignment',
      tag: 'roles',
      auth: { kind: 'permission', permission: 'roles:assign', stepUp: true },
      params: UuidParams,
      responses: { 204: { description: 'Removed' } },
      handler: async ({ params, auth, meta }) => {
        const removed = await c.removeRoleAssignment(params.id);
        await deps.audit.record({ type: 'role.unassigned', outcome: 'success', actorId: auth!.principalId, subjectId: removed.principal_id, meta, details: { before: removed } });
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
      handler: async ({ params, auth, meta }) => {
        await c.getPrincipal(params.id);
        const revoked = await deps.auth.store.revokeAllSessions(params.id, deps.clock.now());
        await deps.audit.record({ type: 'session.revoked_all', outcome: 'success', actorId: auth!.principalId, subjectId: params.id, meta, details: { revoked } });
        return { body: { revoked } };
      },
    }),
    ...collection(deps, {
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
      add: (b) => c.createDataset(b),
      patch: (id, b) => c.updateDataset(id, b),
    }),
  ];
}
