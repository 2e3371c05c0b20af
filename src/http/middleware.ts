/**
 * Cross-cutting middleware: request ids, access logs, a strict JSON body
 * parser, and security headers.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import helmet from 'helmet';
import { UnavailableError, ValidationError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { DeadlineExceededError } from './errorMapper.ts';
import { pathOf, problem, sendProblem } from './problem.ts';
import type { Handler, Next, NodeRequest, NodeResponse } from './transport.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Every response carries `X-Request-Id`. A well-formed id from the caller is
 * kept (so a gateway's id threads through); anything else is replaced.
 */
export function requestId(): Handler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}

/** One structured line per request, with status and latency; never bodies or headers. */
export function accessLog(log: Logger): Handler {
  if (!log.isLevelEnabled('info')) return (_req, _res, next) => next();
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      log.info(
        { requestId: res.locals.requestId, method: req.method, path: pathOf(req), status: res.statusCode, ms: Math.round(ms * 100) / 100 },
        'request',
      );
    });
    next();
  };
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Path of the first forbidden key in a parsed JSON value, or undefined. */
function forbiddenKeyPath(value: unknown, path: string, depth: number): string | undefined {
  const inner = forbiddenKeyIn(value, depth);
  return inner === undefined ? undefined : path + inner;
}

/** `.key.key…` of the first forbidden key below `value` (the path is only built for a find). */
function forbiddenKeyIn(value: unknown, depth: number): string | undefined {
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return `.${key}`;
    const inner = forbiddenKeyIn((value as Record<string, unknown>)[key], depth + 1);
    if (inner !== undefined) return `.${key}${inner}`;
  }
  return undefined;
}

/** Byte count of a size such as `100kb` or `1mb`. */
export function parseSize(limit: string): number {
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(limit.trim());
  if (!m) throw new Error(`not a size: ${limit}`);
  return Number(m[1]) * ({ b: 1, kb: 1024, mb: 1024 * 1024 } as const)[(m[2]?.toLowerCase() ?? 'b') as 'b' | 'kb' | 'mb'];
}

/** An error shaped like body-parser's (`type`, `status`), which the error handler maps to a problem. */
function bodyError(type: string, status: number, message: string): Error {
  return Object.assign(new Error(message), { type, status, expose: true });
}

const JSON_TYPE = /^application\/(?:json|[^;\s/]+\+json)\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

/** The body as parsed JSON, or the error to answer with; `{}` for an empty body. */
function parseJsonText(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  if (i === text.length) return {};
  const first = text.charCodeAt(i);
  if (first !== 0x7b && first !== 0x5b) return bodyError('entity.parse.failed', 400, 'not a JSON object or array');
  try {
    return JSON.parse(text);
  } catch {
    return bodyError('entity.parse.failed', 400, 'invalid JSON');
  }
}

/**
 * Reads a JSON body: `application/json` or `application/*+json`, UTF-8,
 * uncompressed, at most `max` bytes (413 as soon as more arrive, whatever
 * Content-Length claimed), an object or array at the top, without keys that
 * reach for prototypes (see {@link jsonBody}). Other content types are left
 * unread (the route's schema then refuses the missing body).
 */
function readJson(max: number): Handler {
  const done = (req: NodeRequest, next: Next, err: Error | undefined, body?: unknown) => {
    if (err) {
      req.resume();
      return next(err);
    }
    const bad = forbiddenKeyPath(body, 'body', 0);
    if (bad) return next(new ValidationError('The request body contains a forbidden key.', [{ path: bad, message: 'forbidden key' }]));
    req.body = body;
    next();
  };
  const parsed = (req: NodeRequest, next: Next, buf: Buffer) => {
    const body = parseJsonText(buf);
    if (body instanceof Error) done(req, next, body);
    else done(req, next, undefined, body);
  };
  /** Waits for the rest of a body that has not fully arrived yet. */
  const stream = (req: NodeRequest, next: Next, expected: number | undefined) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (err: Error | undefined, buf?: Buffer) => {
      if (settled) return;
      settled = true;
      req.off('data', onData).off('end', onEnd).off('aborted', onAborted).off('error', onError);
      if (err) done(req, next, err);
      else parsed(req, next, buf!);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > max) finish(bodyError('entity.too.large', 413, 'request entity too large'));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      if (expected !== undefined && received !== expected) return finish(bodyError('request.size.invalid', 400, 'request size did not match content length'));
      finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onAborted = () => finish(bodyError('request.aborted', 400, 'request aborted'));
    const onError = (e: Error) => finish(bodyError('request.aborted', 400, e.message));
    req.on('data', onData).on('end', onEnd).on('aborted', onAborted).on('error', onError);
  };
  return (req, _res, next) => {
    const headers = req.headers;
    const declared = headers['content-length'];
    if (headers['transfer-encoding'] === undefined && (declared === undefined || declared === '0')) return next();
    const type = headers['content-type'];
    if (!type || !JSON_TYPE.test(type)) return next();
    const charset = CHARSET.exec(type)?.[1]?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') return next(bodyError('charset.unsupported', 415, 'unsupported charset'));
    const encoding = headers['content-encoding'];
    if (encoding && encoding.toLowerCase() !== 'identity') return next(bodyError('encoding.unsupported', 415, 'unsupported content encoding'));
    const expected = declared === undefined ? undefined : Number(declared);
    if (expected !== undefined && expected > max) {
      req.resume();
      return next(bodyError('entity.too.large', 413, 'request entity too large'));
    }
    if (req.complete || req.readableFlowing !== null || req.listenerCount('data') || req.listenerCount('end')) return stream(req, next, expected);
    // A small body usually arrives in the same packet as the headers: the
    // parser has pushed all of it once this turn's I/O is handled. Then it is
    // read in one go, without stream listeners; otherwise it is streamed.
    setImmediate(() => {
      if (req.destroyed) return done(req, next, bodyError('request.aborted', 400, 'request aborted'));
      if (!req.complete || req.readableFlowing !== null || req.readableEnded) return stream(req, next, expected);
      const received = req.readableLength;
      if (received > max) return done(req, next, bodyError('entity.too.large', 413, 'request entity too large'));
      if (expected !== undefined && received !== expected) return done(req, next, bodyError('request.size.invalid', 400, 'request size did not match content length'));
      const buf = received ? (req.read() as Buffer | null) : null;
      parsed(req, next, buf ?? EMPTY);
    });
  };
}

const EMPTY = Buffer.alloc(0);

/**
 * JSON bodies only, size-limited (413 beyond `limit`), and refusing keys that
 * reach for prototypes: `{"__proto__": …}` is a 400, whatever later code does
 * with the object. (JSON.parse makes `__proto__` an own key, so it is visible
 * to Object.keys.)
 */
export function jsonBody(limit: string): Handler[] {
  return [readJson(parseSize(limit))];
}

/** Form bodies, only for the OAuth endpoints (RFC 6749 §4.4.2): flat keys, bounded count and size. */
export function formBody(limit: string): Handler[] {
  return [express.urlencoded({ limit, extended: false, parameterLimit: 50 }), refuseForbiddenKeys];
}

const refuseForbiddenKeys: Handler = (req, _res, next) => {
  const bad = forbiddenKeyPath(req.body, 'body', 0);
  if (bad) next(new ValidationError('The request body contains a forbidden key.', [{ path: bad, message: 'forbidden key' }]));
  else next();
};

/** Security headers for an API that serves JSON (the docs page sets its own policy: routes/docs.ts). */
export function securityHeaders(): ReturnType<typeof helmet> {
  return helmet({
    // No styles either (helmet's default allows inline ones): the docs page, the one page with any, sets its own policy.
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], styleSrc: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    // Headers that only matter to pages loading other content; this is a JSON API with one static page.
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    originAgentCluster: false,
  });
}

/** The headers a helmet middleware sets, run once against a response that only records them. */
function headersSetBy(middleware: (req: IncomingMessage, res: ServerResponse, next: () => void) => void): [string, string][] {
  const headers: [string, string][] = [];
  const recorder = { setHeader: (k: string, v: unknown) => headers.push([k, String(v)]), removeHeader: () => {} };
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, () => {});
  return headers;
}

/**
 * A Content-Security-Policy header value with exactly `directives` (none of
 * helmet's defaults), checked and serialised by helmet once, for a page that
 * needs a policy of its own.
 */
export function contentSecurityPolicy(directives: Record<string, string[]>): string {
  return headersSetBy(helmet.contentSecurityPolicy({ useDefaults: false, directives }))[0]![1];
}

/**
 * The headers every response carries, computed once: helmet's choices for a
 * JSON API (recorded at start-up) plus `Cache-Control: no-store` (responses
 * about people and credentials must never be cached).
 */
export function staticResponseHeaders(): [string, string][] {
  return [...headersSetBy(securityHeaders()), ['Cache-Control', 'no-store']];
}

/**
 * The per-request basics in one middleware (one router layer instead of
 * five): request id, deadline, static security headers, access log.
 */
export function baseline(o: { log: Logger; timeoutMs: number; onTimeout: (res: NodeResponse, err: DeadlineExceededError) => void; admit?: ((req: IncomingMessage) => boolean) | undefined }): Handler {
  const ids = requestId();
  const due = deadline(o.timeoutMs, o.onTimeout);
  const logged = o.log.isLevelEnabled('info') ? accessLog(o.log) : undefined;
  const headers = staticResponseHeaders();
  const none = () => {};
  return (req, res, next) => {
    ids(req, res, none);
    for (const [k, v] of headers) res.setHeader(k, v);
    if (logged) logged(req, res, none);
    if (o.admit && !o.admit(req)) {
      req.resume();
      return sendProblem(res, problem(403, 'https_required', 'Requests must come over HTTPS, through the configured proxy.', res.locals.requestId!));
    }
    due(req, res, none);
    next();
  };
}

/** Health probes (load balancers, Kubernetes) reach a replica directly, in plain HTTP; they carry nothing secret. */
const PROBES = new Set(['/healthz', '/readyz']);

/**
 * §164.312(e)(1) transmission security behind a TLS-terminating proxy:
 * admits a request only when its direct peer is the trusted proxy (so the
 * forwarded headers are the proxy's, not a client's) and that proxy says
 * the client spoke HTTPS (`X-Forwarded-Proto`, its first value). Health
 * probes are exempt. `trust` is express's compiled `trust proxy` function.
 */
export function viaTlsProxy(trust: (addr: string, i: number) => boolean): (req: IncomingMessage) => boolean {
  return (req) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && PROBES.has(pathOf(req))) return true;
    const peer = req.socket.remoteAddress;
    if (!peer || !trust(peer, 0)) return false;
    const proto = req.headers['x-forwarded-proto'];
    if (typeof proto !== 'string') return false;
    const comma = proto.indexOf(',');
    return (comma === -1 ? proto : proto.slice(0, comma)).trim().toLowerCase() === 'https';
  };
}


/**
 * Every request is answered within `ms`: if a dependency stalls (postgres.js
 * can leave a query pending forever after a connection drops mid-handshake),
 * the caller gets a 503 instead of a hung connection. Fail closed: a late
 * result is discarded, never sent. One sweeper checks the requests in flight
 * a few times a second — no timer or listener per request on the hot path.
 *
 * The requests in flight sit in fixed slots, overwritten and cleared in
 * place. With a Map here, every response survived with its request until the
 * next full collection (most likely through the Map's old tables, left in
 * the old generation still pointing at finished responses, which the
 * young-generation collector counts as live): about 5 KB promoted per
 * request and young-generation pauses of 30–45 ms under load, against under
 * 3 ms with slots (`CUSTOS_WORKERS=1`, 32 connections; src/http/README.md).
 */
export function deadline(ms: number, onTimeout: (res: NodeResponse, err: DeadlineExceededError) => void): Handler {
  let slots: (NodeResponse | undefined)[] = new Array<NodeResponse | undefined>(256).fill(undefined);
  let dues = new Float64Array(slots.length);
  let count = 0;
  const sweep = setInterval(() => {
    const now = Date.now();
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const res = slots[i]!;
      const due = dues[i]!;
      if (res.writableEnded || res.destroyed) continue;
      if (due <= now) {
        if (res.headersSent) continue;
        res.locals.timedOut = true;
        onTimeout(res, new DeadlineExceededError(ms));
        continue;
      }
      slots[kept] = res;
      dues[kept++] = due;
    }
    slots.fill(undefined, kept, count);
    count = kept;
  }, Math.max(10, Math.min(250, Math.floor(ms / 4))));
  sweep.unref();
  return (_req, res, next) => {
    if (count === slots.length) {
      // More in flight than ever before: twice the slots, and the old ones cleared (see above).
      const more = new Array<NodeResponse | undefined>(slots.length * 2).fill(undefined);
      for (let i = 0; i < count; i++) more[i] = slots[i];
      slots.fill(undefined);
      slots = more;
      const moreDues = new Float64Array(more.length);
      moreDues.set(dues);
      dues = moreDues;
    }
    slots[count] = res;
    dues[count++] = Date.now() + ms;
    next();
  };
}

/** Rejects with UnavailableError when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new UnavailableError({ reason: 'timeout', ms })), ms);
    }),
  ]);
}
