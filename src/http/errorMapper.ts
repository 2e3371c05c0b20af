/**
 * The one error mapper: whatever was thrown (a domain error with its code,
 * an OAuth error from the token path, a body reader's refusal, the request
 * deadline, an unreachable database, a bug) becomes a {@link Failure}, a
 * neutral description of the answer: status, stable code, a message safe to
 * show, and what the client may need (field issues, Retry-After). Two
 * renderers turn it into a body: RFC 9457 problem documents (problem.ts,
 * the default) and RFC 6749 §5.2 `{error, error_description}` bodies
 * (oauthErrors.ts), chosen by the route's `errors` declaration. Details go
 * to the log with the request id; no stack, SQL or library message reaches a
 * client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CustosError, RateLimitedError, UnavailableError, ValidationError, type ErrorCode, type FieldIssue } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { OAuthError, type OAuthErrorCode } from '../tokens/oauthError.ts';
import { renderOAuth } from './oauthErrors.ts';
import { pathOf, renderProblem } from './problem.ts';
import type { NodeResponse } from './transport.ts';

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

/** The HTTP status of each OAuth error code (RFC 6749 §5.2: 400, but 401 for a client that failed to authenticate). */
export const OAUTH_STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  access_denied: 400,
  invalid_authorization_details: 400,
  temporarily_unavailable: 503,
  server_error: 500,
};

/** A request that ran past its deadline (see middleware.ts `deadline`): fail closed with a 503. */
export class DeadlineExceededError extends UnavailableError {
  constructor(ms: number) {
    super({ reason: 'request deadline exceeded', ms });
  }
}

/**
 * What went wrong, as any renderer needs it.
 *
 * - `refused`: a domain error (CustosError): its code, its status from
 *   {@link STATUS}, its message.
 * - `oauth`: an RFC 6749 error from the token path (OAuthError): its code,
 *   the status from {@link OAUTH_STATUS}, its description.
 * - `body`: the body reader refused the request (size, encoding, syntax).
 * - `unavailable`: the database cannot be reached now; `deadline`: the
 *   request ran out of time. Both fail closed with a 503 and `Retry-After`.
 * - `internal`: anything else, answered with a generic 500.
 */
export interface Failure {
  kind: 'refused' | 'oauth' | 'body' | 'unavailable' | 'deadline' | 'internal';
  status: number;
  code: ErrorCode | OAuthErrorCode;
  /** Safe to show the caller. */
  message: string;
  /** Which fields were wrong (validation). */
  issues?: FieldIssue[];
  /** Members an error declares safe for the client (RFC 9457 §3.2), e.g. a policy's issues. */
  extensions?: Record<string, unknown>;
  /** Seconds, for `Retry-After`. */
  retryAfter?: number;
  /** Further response headers (a rate limit's `RateLimit` and `RateLimit-Policy`). */
  headers?: Readonly<Record<string, string>>;
  /** Answer and close the connection: the rest of an oversized upload is not worth reading. */
  close?: boolean;
}

/** Classifies body-parser errors (they carry `type` and `status`; middleware.ts's JSON reader makes the same). */
function bodyParserError(err: unknown): Failure | undefined {
  const type = (err as { type?: unknown } | null | undefined)?.type;
  // A form with more parameters than the parser's limit is oversized too (body-parser says 413).
  if (type === 'entity.too.large' || type === 'parameters.too.many') return { kind: 'body', status: 413, code: 'payload_too_large', message: 'The request body is too large.', close: true };
  if (type === 'entity.parse.failed') return { kind: 'body', status: 400, code: 'invalid_request', message: 'The request body is not valid JSON.' };
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return { kind: 'body', status: 415, code: 'unsupported_media_type', message: 'The request body encoding is not supported.' };
  if (type === 'request.aborted' || type === 'request.size.invalid' || type === 'stream.encoding.set') return { kind: 'body', status: 400, code: 'invalid_request', message: 'The request body could not be read.' };
  return undefined;
}

/** Maps anything thrown to the answer it deserves (`unavailable`: the database layer's test for "cannot be reached now"). */
export function toFailure(err: unknown, unavailable: (err: unknown) => boolean): Failure {
  if (err instanceof OAuthError) return { kind: 'oauth', status: OAUTH_STATUS[err.code] ?? 500, code: err.code, message: err.message };
  if (err instanceof DeadlineExceededError) return { kind: 'deadline', status: 503, code: 'unavailable', message: err.message, retryAfter: 1 };
  if (err instanceof CustosError) {
    const code = err.code as ErrorCode;
    const f: Failure = { kind: 'refused', status: STATUS[code] ?? 500, code, message: err.message };
    if (err instanceof ValidationError && Array.isArray(err.issues) && err.issues.length) f.issues = err.issues;
    const extensions = (err as { problemExtensions?: unknown }).problemExtensions;
    if (extensions && typeof extensions === 'object') f.extensions = extensions as Record<string, unknown>;
    if (err instanceof RateLimitedError) {
      f.retryAfter = err.retryAfterSeconds;
      if (err.headers) f.headers = err.headers;
    }
    return f;
  }
  const body = bodyParserError(err);
  if (body) return body;
  if (unavailable(err)) return { kind: 'unavailable', status: 503, code: 'unavailable', message: 'The service is temporarily unavailable.', retryAfter: 1 };
  return INTERNAL;
}

const INTERNAL: Failure = { kind: 'internal', status: 500, code: 'internal_error', message: 'An unexpected error occurred.' };

/** How a route's refusals are written. */
export type ErrorStyle = 'problem' | 'oauth';

/** Writes a failure as a complete response. */
export type Renderer = (res: ServerResponse, f: Failure, requestId: string) => void;

const RENDERERS: Record<ErrorStyle, Renderer> = { problem: renderProblem, oauth: renderOAuth };

/** One log line per failure: refusals at info, what is not the caller's doing at error. */
function logFailure(log: Logger, f: Failure, err: unknown, requestId: string, req: IncomingMessage | undefined): void {
  const method = req?.method;
  const path = req && pathOf(req);
  switch (f.kind) {
    case 'refused':
    case 'oauth':
      log[f.status >= 500 ? 'error' : 'info']({ requestId, errorCode: f.code, detail: (err as CustosError).detail, method, path }, f.message);
      return;
    case 'body':
      log.info({ requestId, errorCode: f.code }, 'request body refused');
      return;
    case 'deadline':
      log.error({ requestId, errorCode: f.code, detail: (err as CustosError).detail }, 'request deadline exceeded');
      return;
    case 'unavailable':
      log.error({ requestId, err }, 'database unavailable');
      return;
    case 'internal':
      log.error({ requestId, err, method, path }, 'unexpected error');
  }
}

/**
 * Answers a failed request: maps the error, logs it, and renders it in the
 * style its route declared (`res.locals.errorStyle`, set by the route runner
 * before the body is read; problem documents otherwise). `req` is absent
 * only for the deadline, which answers from a timer.
 */
export type Respond = (err: unknown, res: NodeResponse, req?: IncomingMessage) => void;

/** The error responder both lanes and the deadline use (`unavailable`: the database layer's test for "cannot be reached now"). */
export function errorResponder(log: Logger, unavailable: (err: unknown) => boolean): Respond {
  return (err, res, req) => {
    const requestId = res.locals.requestId ?? 'unknown';
    if (res.headersSent) {
      // A request answered 503 by the deadline may still fail later; the answer stands.
      if (res.locals.timedOut) return;
      // A stream broke after its headers went out: cut the connection, so the client sees a truncated body as such.
      log.error({ err, requestId }, 'error after response started');
      res.destroy();
      return;
    }
    const render = RENDERERS[res.locals.errorStyle ?? 'problem'];
    try {
      const f = toFailure(err, unavailable);
      logFailure(log, f, err, requestId, req);
      render(res, f, requestId);
    } catch (mapperError) {
      // The mapper itself must never leave a request unanswered (or produce express's HTML error page).
      log.error({ err: mapperError, original: err }, 'error mapper failed');
      if (!res.headersSent) render(res, INTERNAL, requestId);
    }
  };
}
