/**
 * Roles and role assignments. Reads need `catalog:read`; changes need
 * `roles:assign` and a fresh second factor. A change that could widen an
 * administrator, or that confers an administrative, approver or reviewer
 * role, answers 202 with a pending change that a second administrator must
 * approve (routes/changes.ts; rules in src/changes/).
 */
import { z } from 'zod';
import { assignRole } from '../../changes/assignRole.ts';
import { createRole } from '../../changes/createRole.ts';
import { unassignRole } from '../../changes/unassignRole.ts';
import { updateRole } from '../../changes/updateRole.ts';
import * as S from '../../catalog/schemas.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute, type ResponseSpec } from '../route.ts';
import { Change, pendingAnswer } from './changes.ts';

const read = { kind: 'permission', permission: 'catalog:read' } as const;
const change = { kind: 'permission', permission: 'roles:assign', stepUp: true } as const;
const SlugParams = z.strictObject({ id: S.Slug });
const held: ResponseSpec = { description: 'Held for a second administrator: the pending change', schema: Change, headers: ['Location'] };

/** All role and role-assignment routes. */
export function roleRoutes(deps: AppDeps): AnyRoute[] {
  const c = deps.catalog;
  return [
    defineRoute({
      method: 'get',
      path: '/v1/roles',
      summary: 'List roles',
      tag: 'roles',
      auth: read,
      query: S.PageQuery,
      responses: { 200: { description: 'A page of roles', schema: S.page(S.Role) } },
      handler: async ({ query }) => ({ body: await c.listRoles(query) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/roles',
      summary: 'Create a role (it has no holders yet, so it is created at once)',
      tag: 'roles',
      auth: change,
      body: S.RoleCreate,
      responses: { 201: { description: 'Created', schema: S.Role }, 409: { description: 'Already exists, or a cycle' } },
      handler: async ({ body, auth, meta }) => {
        const role = await createRole(deps.changes, { auth: auth!, meta, input: body });
        return { status: 201, body: await c.getRole(role.id) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/roles/:id',
      summary: 'Get a role',
      tag: 'roles',
      auth: read,
      params: SlugParams,
      responses: { 200: { description: 'role', schema: S.Role }, 404: { description: 'Not found' } },
      handler: async ({ params }) => ({ body: await c.getRole(params.id) }),
    }),
    defineRoute({
      method: 'patch',
      path: '/v1/roles/:id',
      summary: "Update a role's description or what it inherits (held for a second administrator when it could widen an administrator)",
      tag: 'roles',
      auth: change,
      params: SlugParams,
      body: S.RoleUpdate,
      responses: { 200: { description: 'Updated', schema: S.Role }, 202: held, 404: { description: 'Not found' }, 409: { description: 'A cycle' } },
      handler: async ({ params, body, auth, meta }) => {
        const r = await updateRole(deps.changes, { auth: auth!, meta, id: params.id, input: body });
        if (r.status === 'pending') return pendingAnswer(r.change, deps.clock.now());
        return { body: await c.getRole(params.id) };
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
      summary: 'Assign a role to someone else, in a project or organisation-wide (an administrative, approver or reviewer role waits for a second administrator)',
      tag: 'roles',
      auth: change,
      body: S.RoleAssignmentCreate,
      responses: { 201: { description: 'Assigned', schema: S.RoleAssignment }, 202: held, 403: { description: 'Assigning yourself' }, 409: { description: 'Already assigned' } },
      handler: async ({ body, auth, meta }) => {
        const r = await assignRole(deps.changes, { auth: auth!, meta, input: body });
        if (r.status === 'pending') return pendingAnswer(r.change, deps.clock.now());
        return { status: 201, body: r.assignment };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/v1/role-assignments/:id',
      summary: 'Remove a role assignment (removing one of your own waits for a second administrator)',
      tag: 'roles',
      auth: change,
      params: z.strictObject({ id: z.uuid() }),
      responses: { 204: { description: 'Removed' }, 202: held, 404: { description: 'Not found' } },
      handler: async ({ params, auth, meta }) => {
        const r = await unassignRole(deps.changes, { auth: auth!, meta, id: params.id });
        if (r.status === 'pending') return pendingAnswer(r.change, deps.clock.now());
        return { status: 204 };
      },
    }),
  ];
}
