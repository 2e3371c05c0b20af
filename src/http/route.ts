/**
 * Declarative routes: one object names the method, path, who may call it,
 * the zod schemas of its parameters, query, body and responses, and a
 * handler. The same object is mounted (`runner.ts`, on either lane) and
 * described in /openapi.json, so the document cannot drift from the code.
 *
 * The contract knows no transport: a handler gets the request's headers and
 * its validated parts, and returns what to answer (status, headers, a JSON
 * body or a stream). It never sees express's or node's request and response,
 * so the hot lane and express serve it alike (a lint rule keeps express and
 * node:http out of routes/).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Writable } from 'node:stream';
import { z } from 'zod';
import type { FieldIssue } from '../errors.ts';
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext, Permission } from '../auth/context.ts';
import type { DecisionLane } from '../metrics/metrics.ts';

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
export type RequestHeaders = Readonly<IncomingHttpHeaders>;

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
  /** A route that decides (calls the decision service): its handler's time is observed under this lane (custos_decision_duration_seconds). */
  lane?: DecisionLane;
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
