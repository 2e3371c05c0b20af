/**
 * Declarative routes: one object names the method, path, who may call it,
 * and the zod schemas of its parameters, query, body and responses. The same
 * object mounts the express handler (validating input with those schemas)
 * and describes the route in /openapi.json, so the document cannot drift
 * from the code. A handler gets the request's headers and its validated
 * parts, and returns what to answer (status, headers, a JSON body or a
 * stream): it never sees express's or node's request and response.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Writable } from 'node:stream';
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

/** A request's headers: lower-case names, as node parsed them (repeated ones joined, `set-cookie` an array). */
export type RequestHeaders = IncomingHttpHeaders;

/** What a handler receives. */
export interface RouteContext<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  auth: AuthContext | undefined;
  /** The request's headers (read-only). */
  headers: RequestHeaders;
  requestId: string;
  /** Source address and request id, for audit events. */
  meta: RequestMeta;
}

/**
 * A streamed answer (exports). The runner sends the status, the headers,
 * `Content-Type` and `Content-Disposition`, then calls `write` with the
 * response as the sink, then ends the response. `write` honours the sink's
 * backpressure (`write()` returning false: wait for 'drain') and stops once
 * the sink is destroyed (the client went away; 'close' fires). If it throws
 * after the headers went out, the runner cuts the connection, so a client
 * never takes a truncated body for a whole one.
 */
export interface RouteStream {
  contentType: string;
  /** Offered as `attachment; filename="…"` (characters outside printable ASCII, `"` and `\` become `_`). */
  filename?: string;
  write: (sink: Writable) => Promise<void>;
}

/** What a handler returns: a JSON body (or none), or a stream; plus status and headers. */
export interface RouteResult {
  /** 200 unless said. */
  status?: number;
  /** Sent as JSON; nothing is sent when undefined. */
  body?: unknown;
  /** Response headers, set after the baseline's (so `Cache-Control` here replaces `no-store`). */
  headers?: Record<string, string>;
  /** A streamed body instead of `body`. */
  stream?: RouteStream;
}

/** A documented response. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
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

/** `filename` as a quoted-string's content: printable ASCII without `"` and `\`. */
function safeFilename(name: string): string {
  return name.replace(/[^\x20-\x7e]|["\\]/g, '_');
}

/** Sends a streamed result: headers at once (the client sees the export start), then the body, then the end. */
async function sendStream(res: Response, s: RouteStream): Promise<void> {
  res.setHeader('Content-Type', s.contentType);
  if (s.filename !== undefined) res.setHeader('Content-Disposition', `attachment; filename="${safeFilename(s.filename)}"`);
  res.flushHeaders();
  // A client that goes away destroys the response: write() sees it (destroyed, 'close') and stops.
  await s.write(res);
  if (!res.destroyed && !res.writableEnded) res.end();
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
      result = await route.handler({ body, query, params, auth, headers: req.headers, requestId, meta });
    } finally {
      // Whatever a write changed, cached facts must not outlive it in this process.
      if (invalidates) afterWrite();
    }
    // Answered already: the deadline's 503 went out while the handler ran.
    if (res.headersSent) return;
    if (result.headers) for (const k in result.headers) res.setHeader(k, result.headers[k]!);
    res.statusCode = result.status ?? 200;
    if (result.stream) return sendStream(res, result.stream);
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
