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

const problemBody = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
const oauthBody = { 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } };

/**
 * The 4xx answers every route of its kind can give, from its declaration:
 * what it validates, who may call it, where it names a resource. A route's
 * own declaration of a status wins.
 */
function derived4xx(r: AnyRoute): Record<string, string> {
  const out: Record<string, string> = {};
  if (r.params || r.query || r.body) out['400'] = 'The request is malformed or fails validation (`invalid_request`, with the failing fields)';
  if (r.auth.kind !== 'public') {
    const stepUp = (r.auth.kind === 'permission' || r.auth.kind === 'session') && r.auth.stepUp;
    out['401'] = stepUp ? 'No valid credentials (`unauthenticated`), or no second factor within the step-up window (`step_up_required`)' : 'No valid credentials (`unauthenticated`)';
  }
  // Every route, behind a TLS-terminating proxy (CUSTOS_TRUST_PROXY without TLS of its own), refuses what did not come through it over HTTPS.
  const proxyOnly = 'in proxy-only mode, the request did not come over HTTPS through the configured proxy (`https_required`)';
  out['403'] = r.auth.kind === 'permission' ? `The caller lacks the permission \`${r.auth.permission}\` (\`forbidden\`); or, ${proxyOnly}` : `Refused: ${proxyOnly}`;
  if (r.params) out['404'] = 'No such resource (`not_found`)';
  if (r.body) {
    out['413'] = 'The request body is too large (`payload_too_large`)';
    out['415'] = 'The request body encoding is not supported (`unsupported_media_type`)';
  }
  if (r.errors === 'oauth' && !out['401']) out['401'] = 'Client authentication failed (`invalid_client`)';
  return out;
}

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
    const errorBody = r.errors === 'oauth' ? oauthBody : problemBody;
    for (const [status, description] of Object.entries(derived4xx(r))) responses[status] ??= { description, content: errorBody };
    responses.default = { description: 'Error', content: errorBody };
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
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: {
        Problem: problemSchema,
        OAuthError: {
          type: 'object',
          required: ['error'],
          description: 'RFC 6749 §5.2 error response (the OAuth endpoints)',
          properties: { error: { type: 'string' }, error_description: { type: 'string' } },
        },
      },
      securitySchemes: {
        session: { type: 'http', scheme: 'bearer', description: 'Session access token from a login (/v1/auth/totp, /v1/auth/webauthn/verify, …)' },
        client: { type: 'http', scheme: 'basic', description: 'Service client credentials (client_secret_basic); the OAuth endpoints authenticate clients this way too' },
      },
    },
  };
}
