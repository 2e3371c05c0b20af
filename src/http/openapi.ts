/**
 * Builds /openapi.json (OpenAPI 3.1) from the route table: the schemas that
 * validate requests are the schemas that document them.
 */
import { z } from 'zod';
import { CONTENT_TYPES } from '../audit/export.ts';
import type { AnyRoute, DocumentedHeader } from './route.ts';

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

/** The response headers routes declare (`ResponseSpec.headers`), as documented. */
const RESPONSE_HEADERS: Record<DocumentedHeader, Json> = {
  ETag: {
    description: 'The entity tag of the resource in this answer (RFC 9110 §8.8.3), a quoted string: send it as `If-Match` to change the resource on top of it',
    schema: { type: 'string', pattern: '^"[^"]*"$' },
  },
  Location: { description: 'Where the resource is (RFC 9110 §10.2.2): for a change held for a second administrator, the pending change', schema: { type: 'string' } },
};

/** The `If-Match` request header of a route that declares `ifMatch`. */
function ifMatchParameter(r: AnyRoute): Json {
  return {
    name: 'If-Match',
    in: 'header',
    required: r.ifMatch === 'required',
    description: 'The ETag of the resource as this request saw it (RFC 9110 §13.1.1; compared strongly, `*` not accepted): the request is refused when the resource has changed since',
    schema: { type: 'string' },
  };
}

/** Media types of the `format` values a route's query can ask for (exports: NDJSON and CSV; reports: JSON or CSV). */
const FORMAT_TYPES: Record<string, string> = { json: 'application/json', ...Object.fromEntries(Object.entries(CONTENT_TYPES).map(([f, t]) => [f, t.split(';')[0]!])) };

/** The `format` values a route's query declares (an enum), or none. */
function formatsOf(r: AnyRoute): string[] {
  if (!r.query) return [];
  const p = ((schemaOf(r.query, 'input').properties ?? {}) as Record<string, Json>).format;
  const values = p?.enum;
  return Array.isArray(values) && values.every((v) => typeof v === 'string' && v in FORMAT_TYPES) ? (values as string[]) : [];
}

/**
 * The 200 answer of a route that answers in several formats (a `format`
 * query parameter): one media type per format. JSON has the declared
 * schema; NDJSON and CSV are streamed text, downloaded as a file.
 */
function formatContent(formats: readonly string[], schema: z.ZodType | undefined): { content: Json; headers?: Json } {
  const content: Json = {};
  for (const f of formats) {
    if (f === 'json') content[FORMAT_TYPES.json!] = schema ? { schema: schemaOf(schema, 'output') } : {};
    else if (f === 'ndjson') content[FORMAT_TYPES.ndjson!] = { schema: { type: 'string', description: 'One JSON object per line (a row), LF-terminated' } };
    else if (f === 'csv') content[FORMAT_TYPES.csv!] = { schema: { type: 'string', description: 'RFC 4180 CSV with a header row; structured cells as JSON text; formula-like cells prefixed with a single quote' } };
  }
  if (formats.every((f) => f === 'json')) return { content };
  return { content, headers: { 'Content-Disposition': { description: 'For NDJSON and CSV: `attachment`, with a file name saying what was exported and when', schema: { type: 'string' } } } };
}

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
  // The deciding routes are rate-limited (docs/rate-limits.md).
  if (r.lane) out['429'] = `Over the client's or the source address's rate limit (\`${r.errors === 'oauth' ? 'slow_down' : 'rate_limited'}\`), with \`Retry-After\`, \`RateLimit\` and \`RateLimit-Policy\`; a batch costs one per decision`;
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
    if (r.ifMatch) parameters.push(ifMatchParameter(r));
    const formats = formatsOf(r);
    const responses: Record<string, Json> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      const doc: Json =
        status === '200' && formats.length
          ? { description: resp.description, ...formatContent(formats, resp.schema) }
          : resp.schema
            ? { description: resp.description, content: { 'application/json': { schema: schemaOf(resp.schema, 'output') } } }
            : { description: resp.description };
      if (resp.headers?.length) doc.headers = { ...(doc.headers as Json | undefined), ...Object.fromEntries(resp.headers.map((h) => [h, RESPONSE_HEADERS[h]])) };
      responses[status] = doc;
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
