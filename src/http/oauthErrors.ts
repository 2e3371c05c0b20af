/**
 * The OAuth renderer of the one error mapper: on the OAuth endpoints every
 * refusal is an RFC 6749 §5.2 body, `{error, error_description}`, never a
 * problem document, so off-the-shelf OAuth clients understand it (RFC 7662
 * §2.3 and RFC 7009 §2.2.1 use the same bodies). That holds for failures
 * before the handler runs too: an oversized or unreadable form, a forbidden
 * key, a deadline. What reaches the caller is generic: no field paths, SQL or
 * library messages (the caller may not have authenticated yet); the detail
 * goes to the log.
 */
import type { ErrorRequestHandler, Request, Response } from 'express';
import { CustosError, RateLimitedError, UnauthenticatedError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { OAuthError, type OAuthErrorCode } from '../tokens/issueToken.ts';
import { bodyParserError, pathOf } from './problem.ts';

/** An RFC 6749 §5.2 error response. */
interface OAuthAnswer {
  status: number;
  error: string;
  description: string;
  headers?: [string, string][];
}

const UNAVAILABLE: OAuthAnswer = { status: 503, error: 'temporarily_unavailable', description: 'The service is temporarily unavailable.', headers: [['Retry-After', '1']] };

/** The HTTP status of each OAuth error code (RFC 6749 §5.2: 400, but 401 for a client that failed to authenticate). */
const OAUTH_STATUS: Record<OAuthErrorCode, number> = {
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

/** What an error means on an OAuth endpoint (`unavailable`: the database layer's test for "cannot be reached now"). */
function classify(err: unknown, unavailable: (err: unknown) => boolean): OAuthAnswer {
  if (err instanceof OAuthError) return { status: OAUTH_STATUS[err.code], error: err.code, description: err.message };
  if (err instanceof UnauthenticatedError) {
    // RFC 6749 §5.2: invalid_client answers 401 with the scheme the client may use.
    return { status: 401, error: 'invalid_client', description: 'Client authentication failed.', headers: [['WWW-Authenticate', 'Basic realm="custos"']] };
  }
  if (err instanceof RateLimitedError) {
    return { status: 429, error: 'slow_down', description: 'Too many attempts. Try again later.', headers: [['Retry-After', String(err.retryAfterSeconds)]] };
  }
  if (err instanceof CustosError) {
    if (err.code === 'unavailable' || err.code === 'audit_unavailable') return UNAVAILABLE;
    // An authenticated client without the permission the endpoint needs (introspection is for resource servers).
    if (err.code === 'forbidden') return { status: 403, error: 'unauthorized_client', description: err.message };
    // A dataset the request names does not exist (the caller has authenticated by then).
    if (err.code === 'not_found') return { status: 400, error: 'invalid_authorization_details', description: err.message };
    // Anything else refused before the handler ran (a forbidden form key, say): one generic answer.
    return { status: 400, error: 'invalid_request', description: 'The request is malformed.' };
  }
  const bp = bodyParserError(err);
  if (bp) {
    const headers: [string, string][] = bp.status === 413 ? [['Connection', 'close']] : [];
    const description = bp.status === 413 ? 'The request body is too large.' : bp.status === 415 ? 'The request body encoding is not supported.' : 'The request body could not be read.';
    return { status: bp.status, error: 'invalid_request', description, headers };
  }
  if (unavailable(err)) return UNAVAILABLE;
  return { status: 500, error: 'server_error', description: 'An unexpected error occurred.' };
}

/** Sends an RFC 6749 §5.2 error body (node's own response API: it serves the lean hot lane too). */
function send(res: Response, a: OAuthAnswer): void {
  const text = JSON.stringify({ error: a.error, error_description: a.description });
  for (const [k, v] of a.headers ?? []) res.setHeader(k, v);
  res.statusCode = a.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  // RFC 6749 §5.1 asks this of token responses; errors are no more cacheable.
  res.setHeader('Pragma', 'no-cache');
  res.end(text);
}

/** Answers any error on an OAuth endpoint as an RFC 6749 §5.2 body, logging the detail. */
export function sendOAuthError(log: Logger, err: unknown, req: Request, res: Response, unavailable: (err: unknown) => boolean): void {
  const requestId = (res.locals.requestId as string | undefined) ?? 'unknown';
  const a = classify(err, unavailable);
  const detail = err instanceof CustosError ? { errorCode: err.code, detail: err.detail } : a.status >= 500 ? { err } : { errorCode: a.error };
  log[a.status >= 500 ? 'error' : 'info']({ requestId, ...detail, method: req.method, path: pathOf(req) }, 'oauth request refused');
  send(res, a);
}

/** Whether a request is answered the OAuth way (its route said so before reading the body). */
function isOAuth(res: Response): boolean {
  return (res.locals as { errorStyle?: string } | undefined)?.errorStyle === 'oauth';
}

/** The error middleware: OAuth routes' errors as RFC 6749 bodies, every other one as `problems` renders it. */
export function oauthOrProblem(log: Logger, problems: ErrorRequestHandler, unavailable: (err: unknown) => boolean): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (!isOAuth(res) || res.headersSent) return problems(err, req, res, next);
    try {
      sendOAuthError(log, err, req, res, unavailable);
    } catch (mapperError) {
      log.error({ err: mapperError, original: err }, 'oauth error mapper failed');
      if (!res.headersSent) send(res, { status: 500, error: 'server_error', description: 'An unexpected error occurred.' });
    }
  };
}

/** The deadline's 503: an RFC 6749 body on OAuth routes, a problem document (`problems`) elsewhere. */
export function oauthOrProblemDeadline(problems: (res: Response, err: CustosError) => void): (res: Response, err: CustosError) => void {
  return (res, err) => (isOAuth(res) ? send(res, UNAVAILABLE) : problems(res, err));
}
