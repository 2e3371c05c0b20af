/**
 * The one place that turns errors into HTTP answers: RFC 9457 problem
 * documents with a stable `code`. Details go to the log; the client gets a
 * generic message and the request id to quote. No stack traces, SQL or
 * library messages reach a client.
 */
import type { NextFunction, Request, Response } from 'express';
import { CustosError, RateLimitedError, ValidationError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** The HTTP status of every error code: exhaustive, so a new code without a status does not compile. */
export const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  invalid_mfa: 401,
  step_up_required: 401,
  forbidden: 403,
  not_sponsor: 403,
  https_required: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_required: 428,
  policy_invalid: 422,
  policy_tests_failed: 422,
  policy_tests_too_large: 422,
  policy_check_limit: 422,
  policy_check_busy: 503,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  audit_unavailable: 503,
  // Not a client's doing: never answered with their own message.
  config_invalid: 500,
  decryption_failed: 500,
  migration_checksum_mismatch: 500,
  internal_error: 500,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An RFC 9457 problem document as Custos sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  request_id: string;
  errors?: { path: string; message: string }[];
  /** Policy edits: where the policy is invalid (`issues`) or which of its tests fail (`failures`). */
  [extension: string]: unknown;
}

/** Builds the problem document for a code. */
export function problem(status: number, code: ErrorCode, detail: string, requestId: string): Problem {
  return { type: `urn:custos:problem:${code}`, title: TITLES[status] ?? 'Error', status, code, detail, request_id: requestId };
}

/** Sends a problem document (with node's own response API: it serves the lean hot path too). */
export function sendProblem(res: Response, p: Problem): void {
  const text = JSON.stringify(p);
  res.statusCode = p.status;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** The path of a request, without its query (express's req.path, for plain node requests too). */
export function pathOf(req: { url?: string | undefined }): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Classifies body-parser errors (they carry `type` and `status`). */
export function bodyParserError(err: unknown): { status: number; code: ErrorCode; detail: string } | undefined {
  const type = (err as { type?: unknown })?.type;
  // A form with more parameters than the parser's limit is oversized too (body-parser says 413).
  if (type === 'entity.too.large' || type === 'parameters.too.many') return { status: 413, code: 'payload_too_large', detail: 'The request body is too large.' };
  if (type === 'entity.parse.failed') return { status: 400, code: 'invalid_request', detail: 'The request body is not valid JSON.' };
  if (type === 'encoding.unsupported' || type === 'charset.unsupported')
    return { status: 415, code: 'unsupported_media_type', detail: 'The request body encoding is not supported.' };
  if (type === 'request.aborted' || type === 'request.size.invalid' || type === 'stream.encoding.set')
    return { status: 400, code: 'invalid_request', detail: 'The request body could not be read.' };
  return undefined;
}

/** Express error middleware: maps any error to a problem document (`unavailable`: the database layer's test for "cannot be reached now"). */
export function errorHandler(log: Logger, unavailable: (err: unknown) => boolean) {
  const handle = mapError(log, unavailable);
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    try {
      handle(err, req, res);
    } catch (mapperError) {
      // The mapper itself must never produce express's HTML error page.
      log.error({ err: mapperError, original: err }, 'error mapper failed');
      if (!res.headersSent) sendProblem(res, problem(500, 'internal_error', 'An unexpected error occurred.', String(res.locals.requestId ?? 'unknown')));
    }
  };
}

function mapError(log: Logger, unavailable: (err: unknown) => boolean) {
  return (err: unknown, req: Request, res: Response): void => {
    const requestId = (res.locals.requestId as string | undefined) ?? 'unknown';
    if (res.headersSent) {
      // A request answered 503 by the deadline may still fail later; the answer stands.
      if (res.locals.timedOut) return;
      log.error({ err, requestId }, 'error after response started');
      res.destroy();
      return;
    }
    if (err instanceof CustosError) {
      // An OAuth error reaching this renderer is still answered (its own renderer is sendOAuthError).
      const status = STATUS[err.code as ErrorCode] ?? 500;
      const p = problem(status, err.code, err.message, requestId);
      if (err instanceof ValidationError && Array.isArray(err.issues) && err.issues.length) p.errors = err.issues;
      // Extension members an error declares safe for the client (RFC 9457 §3.2), e.g. a policy's issues.
      const extensions = (err as { problemExtensions?: unknown }).problemExtensions;
      if (extensions && typeof extensions === 'object') for (const [k, v] of Object.entries(extensions)) if (!(k in p)) p[k] = v;
      if (err instanceof RateLimitedError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="custos"');
      const level = status >= 500 ? 'error' : 'info';
      log[level]({ requestId, errorCode: err.code, detail: err.detail, method: req.method, path: pathOf(req) }, err.message);
      sendProblem(res, p);
      return;
    }
    const bp = bodyParserError(err);
    if (bp) {
      log.info({ requestId, errorCode: bp.code }, 'request body refused');
      // Do not wait for the rest of an oversized upload: answer and close.
      if (bp.status === 413) res.setHeader('Connection', 'close');
      sendProblem(res, problem(bp.status, bp.code, bp.detail, requestId));
      return;
    }
    if (unavailable(err)) {
      log.error({ requestId, err }, 'database unavailable');
      res.setHeader('Retry-After', '1');
      sendProblem(res, problem(503, 'unavailable', 'The service is temporarily unavailable.', requestId));
      return;
    }
    log.error({ requestId, err, method: req.method, path: pathOf(req) }, 'unexpected error');
    sendProblem(res, problem(500, 'internal_error', 'An unexpected error occurred.', requestId));
  };
}

/** Sends the 503 for a request that ran past its deadline. */
export function sendDeadlineProblem(log: Logger) {
  return (res: Response, err: CustosError): void => {
    const requestId = (res.locals.requestId as string | undefined) ?? 'unknown';
    log.error({ requestId, errorCode: err.code, detail: err.detail }, 'request deadline exceeded');
    res.setHeader('Retry-After', '1');
    sendProblem(res, problem(503, 'unavailable', err.message, requestId));
  };
}
