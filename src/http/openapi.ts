/**
 * Builds /openapi.json (OpenAPI 3.1) from the route table: the schemas that
 * validate requests are the schemas that document them.
 */
import { z } from 'zod';
import type { AnyRoute } from './route.ts';

type Json = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: 'input' | 'output'): Json {
  const js = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete js.$schema;
  return js;
}

const problemSchema: Json = {
  type: 'object',
  required: ['type', 'title', 'status', 'code', 'detail', 'request_id'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', description: 'Stable error code' },
    detail: { type: 'string' },
    request_id: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

/** Produces the OpenAPI document for a set of routes. */
export function buildOpenApi(routes: readonly AnyRoute[], info: { version: string; serverUrl: string }): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const oaPath = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const parameters: Json[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!schema) continue;
      const js = schemaOf(schema, 'input');
      const props = (js.properties ?? {}) as Record<string, Json>;
      const required = new Set((js.required as string[] | undefined) ?? []);
      for (const [name, p] of Object.entries(props)) {
        parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema: p });
      }
    }
    const responses: Record<string, Json> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = resp.schema
        ? { description: resp.description, content: { 'application/json': { schema: schemaOf(resp.schema, 'output') } } }
        : { description: resp.description };
    }
    responses.default = { description: 'Error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
    const op: Json = {
      operationId: `${r.method}${oaPath.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: r.summary,
      tags: [r.tag],
      parameters,
      responses,
    };
    if (r.body) {
      const type = r.bodyType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json';
      op.requestBody = { required: true, content: { [type]: { schema: schemaOf(r.body, 'input') } } };
    }
    if (r.auth.kind === 'permission' && r.auth.clients) {
      op.security = [{ session: [] }, { client: [] }];
      op['x-custos-permission'] = r.auth.permission;
    } else if (r.auth.kind !== 'public') {
      op.security = [{ session: [] }];
      if (r.auth.kind === 'permission') op['x-custos-permission'] = r.auth.permission;
      if ((r.auth.kind === 'permission' || r.auth.kind === 'session') && r.auth.stepUp) op['x-custos-step-up'] = true;
      if (r.auth.kind === 'enrollment') op['x-custos-enrollment-session'] = true;
    } else {
      op.security = [];
    }
    (paths[oaPath] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Custos',
      version: info.version,
      description: 'Policy decision point for HIPAA-regulated AI training data.',
    },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: {
        session: { type: 'http', scheme: 'bearer', description: 'Session access token from a login (/v1/auth/totp, /v1/auth/webauthn/verify, …)' },
        client: { type: 'http', scheme: 'basic', description: 'Service client credentials (client_secret_basic); the OAuth endpoints authenticate clients this way too' },
      },
    },
  };
}
