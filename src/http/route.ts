/**
 * Declarative routes: one object names the method, path, who may call it,
 * and the zod schemas of its parameters, query, body and responses. The same
 * object mounts the express handler (validating input with those schemas)
 * and describes the route in /openapi.json, so the document cannot drift
 * from the code.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors.ts';
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext, Permission } from '../auth/context.ts';

/** Who may call a route. */
export type RouteAuth =
  | { kind: 'public' }
  /** Any full session (password + second factor); `stepUp`: and a second factor within the step-up window. */
  | { kind: 'session'; stepUp?: boolean }
  /** A full session or the restricted session of someone enrolling their first factor. */
  | { kind: 'enrollment' }
  /** A full session whose principal holds this permission (and, with `stepUp`, fresh MFA); `clients`: service client credentials (HTTP Basic) are accepted too. */
  | { kind: 'permission'; permission: Permission; stepUp?: boolean; clients?: boolean };

/** What a handler receives. */
export interface RouteContext<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  auth: AuthContext | undefined;
  /** The request's headers (lower-case names), as node parsed them. */
  headers: IncomingHttpHeaders;
  req: Request;
  res: Response;
  requestId: string;
  /** Source address and request id, for audit events. */
  meta: RequestMeta;
}

/** What a handler returns; the route sends it as JSON. */
export interface RouteResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Response headers /openapi.json knows how to describe (openapi.ts). */
export type DocumentedHeader =
  /** The entity tag of the resource in the answer (RFC 9110 §8.8.3): what a later edit sends as If-Match. */
  | 'ETag'
  /** Where the created or pending resource is (RFC 9110 §10.2.2). */
  | 'Location';

/** A documented response. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Headers this answer carries, documented with it (the handler sets them in its result). */
  headers?: readonly DocumentedHeader[];
}

/** One route, as mounted and as documented. */
export interface RouteSpec<B = unknown, Q = unknown, P = unknown> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express-style path, e.g. `/v1/projects/:id`. */
  path: string;
  summary: string;
  tag: string;
  auth: RouteAuth;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  responses: Record<number, ResponseSpec>;
  /**
   * The request names the version it is based on in `If-Match` (RFC 9110
   * §13.1.1), documented as a header parameter; `required`: refused without
   * it. The refusals (missing, stale) are among `responses` like any other.
   */
  ifMatch?: 'required' | 'optional';
  /**
   * Whether the route can change what decisions are made on. Writes (any
   * method but GET) empty this process's fact caches afterwards unless they
   * declare `changesFacts: false` (the decision API only reads them).
   */
  changesFacts?: boolean;
  /**
   * A hot path (the decision and token endpoints): dispatched by exact path
   * from the first middleware layer, without walking express's route list.
   */
  hot?: boolean;
  /** Body encoding: JSON (default), or form-urlencoded for the OAuth endpoints. */
  bodyType?: 'json' | 'form';
  /**
   * How refusals are answered: problem documents (default), or RFC 6749 §5.2
   * `{error, error_description}` bodies for the OAuth endpoints — also for
   * what fails before the handler runs (body size, form parsing, deadline).
   */
  errors?: 'problem' | 'oauth';
  handler: (ctx: RouteContext<B, Q, P>) => Promise<RouteResult>;
}

/** A route of any input types, as kept in route tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous table; each entry was type-checked by defineRoute
export type AnyRoute = RouteSpec<any, any, any>;

/** Identity helper that keeps the generic types of a route together. */
export function defineRoute<B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<B, Q, P>): RouteSpec<B, Q, P> {
  return spec;
}

/** The storable-text rule (no NUL, no lone surrogate), kept in src/text.ts so catalog schemas share it. */
export { storableText } from '../text.ts';

/** Turns zod issues into field issues, naming the part of the request. */
export function toFieldIssues(where: string, error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({
    path: [where, ...i.path.map(String)].join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
}

function parsePart<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`The request ${where} is not valid.`, toFieldIssues(where, r.error));
  return r.data;
}

/** Resolves the caller and checks the route's requirement; throws when refused. */
export type Authorizer = (req: Request, auth: RouteAuth, meta: RequestMeta, action: string) => Promise<AuthContext | undefined>;

/** Runs handlers in order, as one handler: an error goes straight to `next`. */
export function chain(handlers: readonly RequestHandler[]): RequestHandler {
  return handlers.reduceRight<RequestHandler>(
    (rest, h) => (req, res, next) => {
      h(req, res, (err?: unknown) => (err ? next(err) : rest(req, res, next)));
    },
    (_req, _res, next) => next(),
  );
}

/**
 * One express handler per route: body parser, caller, validation, handler,
 * answer. (One function, not a stack of route layers for express to walk.)
 */
export function routeHandler(
  route: AnyRoute,
  authorize: Authorizer,
  options: RouteOptions = {},
): RequestHandler {
  const afterWrite = options.afterWrite ?? (() => {});
  const parsers = route.method !== 'get' && options.parsers ? options.parsers[route.bodyType ?? 'json'] : [];
  const action = `${route.method.toUpperCase()} ${route.path}`;
  const invalidates = route.method !== 'get' && route.changesFacts !== false;
  const run = async (req: Request, res: Response): Promise<void> => {
    const requestId = res.locals.requestId as string;
    // The source address is worked out (trust proxy, X-Forwarded-For) only if something reads it.
    const ipOf = options.ipOf;
    const meta: RequestMeta = {
      get ip() {
        return ipOf ? ipOf(req) : req.ip;
      },
      requestId,
    };
    const auth = await authorize(req, route.auth, meta, action);
    const params = parsePart(route.params, req.params, 'params');
    const query = route.query ? parsePart(route.query, req.query, 'query') : undefined;
    const body = parsePart(route.body, route.body ? (req.body ?? {}) : undefined, 'body');
    let result: RouteResult;
    try {
      result = await route.handler({ body, query, params, auth, headers: req.headers, req, res, requestId, meta });
    } finally {
      // Whatever a write changed, cached facts must not outlive it in this process.
      if (invalidates) afterWrite();
    }
    if (res.headersSent) return;
    if (result.headers) for (const k in result.headers) res.setHeader(k, result.headers[k]!);
    res.statusCode = result.status ?? 200;
    if (result.body === undefined) return void res.end();
    // What res.json does, minus the settings lookups and freshness checks no JSON API answer needs.
    const text = JSON.stringify(result.body);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  };
  const final: RequestHandler = (req, res, next) => {
    run(req, res).catch(next);
  };
  const handler = parsers.length ? chain([...parsers, final]) : final;
  if (route.errors !== 'oauth') return handler;
  // Marked before the body is read, so the error mapper renders even a parser's refusal the OAuth way.
  return (req, res, next) => {
    res.locals.errorStyle = 'oauth';
    handler(req, res, next);
  };
}

/** How routes are mounted. */
export interface RouteOptions {
  /** Called after every write that can change decisions (empties fact caches). */
  afterWrite?: () => void;
  /** Body parsers by route body type. */
  parsers?: { json: RequestHandler[]; form: RequestHandler[] };
  /** The client address of a request (express's req.ip, also for plain node requests). */
  ipOf?: (req: Request) => string | undefined;
}

/** Mounts routes on an express router, validating every part of the request. */
export function mountRoutes(
  router: Pick<Router, 'get' | 'post' | 'put' | 'patch' | 'delete'>,
  routes: readonly AnyRoute[],
  authorize: Authorizer,
  options: RouteOptions = {},
): void {
  for (const route of routes) router[route.method](route.path, routeHandler(route, authorize, options));
}
