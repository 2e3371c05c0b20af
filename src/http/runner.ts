/**
 * The route runner: one handler per declared route (route.ts) that reads
 * the body, checks the caller, validates every part of the request, calls
 * the route's handler and sends what it returned. It works on node's request
 * and response (transport.ts), so the hot lane runs it on node's own objects
 * and express mounts it as it is. Errors go to `next`, for the one error
 * mapper (errorMapper.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { ValidationError } from '../errors.ts';
import { toFieldIssues, type AnyRoute, type RequestHeaders, type RouteAuth, type RouteResult, type RouteStream } from './route.ts';
import type { Meter } from './instrument.ts';
import type { RouteLimit } from './rateLimit.ts';
import type { Handler, NodeRequest, NodeResponse } from './transport.ts';

function parsePart<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`The request ${where} is not valid.`, toFieldIssues(where, r.error));
  return r.data;
}

/** Resolves the caller from the request's headers and checks the route's requirement; throws when refused. */
export type Authorizer = (headers: RequestHeaders, auth: RouteAuth, meta: RequestMeta, action: string) => Promise<AuthContext | undefined>;

/** Runs handlers in order, as one handler: an error goes straight to `next`. */
export function chain(handlers: readonly Handler[]): Handler {
  return handlers.reduceRight<Handler>(
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
async function sendStream(res: ServerResponse, s: RouteStream): Promise<void> {
  res.setHeader('Content-Type', s.contentType);
  if (s.filename !== undefined) res.setHeader('Content-Disposition', `attachment; filename="${safeFilename(s.filename)}"`);
  res.flushHeaders();
  // A client that goes away destroys the response: write() sees it (destroyed, 'close') and stops.
  await s.write(res);
  if (!res.destroyed && !res.writableEnded) res.end();
}

/** How routes are mounted. */
export interface RouteOptions {
  /** Awaited after every write that can change decisions, before the answer (the facts in memory catch up). */
  afterWrite?: () => Promise<void>;
  /** Body parsers by route body type. */
  parsers?: { json: Handler[]; form: Handler[] };
  /** The client address of a request (express's req.ip, also for plain node requests). */
  ipOf?: (req: IncomingMessage) => string | undefined;
  /** The meter of a route that is measured (metrics: the deciding routes), called once its handler has ended. */
  meter?: (route: AnyRoute) => Meter | undefined;
  /** The rate limits of a route (the deciding routes; rateLimit.ts). */
  limit?: (route: AnyRoute) => RouteLimit | undefined;
}

/**
 * One handler per route: body parser, caller, validation, handler, answer.
 * (One function, not a stack of route layers for express to walk.)
 */
export function routeHandler(route: AnyRoute, authorize: Authorizer, options: RouteOptions = {}): Handler {
  const afterWrite = options.afterWrite ?? (async () => {});
  const parsers = route.method !== 'get' && options.parsers ? options.parsers[route.bodyType ?? 'json'] : [];
  const action = `${route.method.toUpperCase()} ${route.path}`;
  const invalidates = route.method !== 'get' && route.changesFacts !== false;
  const ipOf = options.ipOf;
  const meter = options.meter?.(route);
  const limit = options.limit?.(route);
  const run = async (req: NodeRequest, res: NodeResponse): Promise<void> => {
    const requestId = res.locals.requestId!;
    // The source address is worked out (trust proxy, X-Forwarded-For) only if something reads it.
    const meta: RequestMeta = {
      get ip() {
        return ipOf ? ipOf(req) : req.ip;
      },
      requestId,
    };
    const headers = req.headers;
    // Rate limits: the address's before the caller is checked, the client's once it is known (no await when tokens are in hand).
    const bySource = limit?.source(meta);
    if (bySource) await bySource;
    const auth = await authorize(headers, route.auth, meta, action);
    const params = parsePart(route.params, req.params, 'params');
    const query = route.query ? parsePart(route.query, req.query, 'query') : undefined;
    const body = parsePart(route.body, route.body ? (req.body ?? {}) : undefined, 'body');
    const byClient = limit && auth ? limit.client(auth, body, meta) : undefined;
    if (byClient) await byClient;
    let result: RouteResult;
    const start = meter ? performance.now() : 0;
    try {
      result = await route.handler({ body, query, params, auth, headers, requestId, meta });
      meter?.(start, undefined);
    } catch (err) {
      meter?.(start, err);
      throw err;
    } finally {
      // Whatever a write changed, no later decision of this process may be made on the facts before it.
      if (invalidates) await afterWrite();
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
  const final: Handler = (req, res, next) => {
    run(req, res).catch(next);
  };
  const handler = parsers.length ? chain([...parsers, final]) : final;
  if (route.errors !== 'oauth') return handler;
  // Marked before the body is read, so the error mapper renders even a parser's refusal (and the deadline's) the OAuth way.
  return (req, res, next) => {
    res.locals.errorStyle = 'oauth';
    handler(req, res, next);
  };
}

/** The router methods routes are mounted with (express's app or Router). */
export type Mount = Record<AnyRoute['method'], (path: string, handler: Handler) => unknown>;

/** Mounts routes on an express application or router, validating every part of the request. */
export function mountRoutes(router: Mount, routes: readonly AnyRoute[], authorize: Authorizer, options: RouteOptions = {}): void {
  for (const route of routes) router[route.method](route.path, routeHandler(route, authorize, options));
}
