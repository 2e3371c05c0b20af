/**
 * What both lanes share about a request in flight: node's own request and
 * response, plus the few things the middleware adds (the parsed body, route
 * parameters, and `locals`). Express's request and response are these and
 * more, so everything typed here serves both lanes without casts; the hot
 * lane gives node's response its `locals` with {@link withLocals}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Per-response state the middleware shares (express's `res.locals`). */
export interface Locals {
  /** Set by the baseline first thing; echoed as `X-Request-Id`. */
  requestId?: string;
  /** Set by the deadline once it has answered: a later failure changes nothing. */
  timedOut?: boolean;
  /** How this request's errors are rendered, when its route says OAuth (problem documents otherwise). */
  errorStyle?: 'problem' | 'oauth';
}

/** Node's request, with what the body reader and express's router may add. */
export type NodeRequest = IncomingMessage & {
  body?: unknown;
  params?: unknown;
  query?: unknown;
  /** Express's address under `trust proxy` (plain node requests have none; see RouteOptions.ipOf). */
  readonly ip?: string | undefined;
};

/** Node's response, with the per-request `locals`. */
export type NodeResponse = ServerResponse & { locals: Locals };

/** Continues with the next step, or fails the request with `err`. */
export type Next = (err?: unknown) => void;

/** A middleware step on node's request and response (express accepts these as they are). */
export type Handler = (req: NodeRequest, res: NodeResponse, next: Next) => void;

/** Gives a plain node response the empty `locals` that express gives its own. */
export function withLocals(res: ServerResponse): asserts res is NodeResponse {
  (res as Partial<NodeResponse>).locals = Object.create(null) as Locals;
}
