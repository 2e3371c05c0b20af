/**
 * The OAuth renderer of the one error mapper (errorMapper.ts): on the OAuth
 * endpoints (`errors: 'oauth'`) every refusal is an RFC 6749 §5.2 body,
 * `{error, error_description}`, never a problem document, so off-the-shelf
 * OAuth clients understand it (RFC 7662 §2.3 and RFC 7009 §2.2.1 use the
 * same bodies). That holds for failures before the handler runs too: an
 * oversized or unreadable form, a forbidden key, a deadline. What reaches
 * the caller is generic: no field paths, SQL or library messages (the
 * caller may not have authenticated yet).
 */
import type { ServerResponse } from 'node:http';
import type { Failure } from './errorMapper.ts';

/** An RFC 6749 §5.2 error response. */
interface OAuthAnswer {
  status: number;
  error: string;
  description: string;
  headers?: [string, string][];
}

const UNAVAILABLE: OAuthAnswer = { status: 503, error: 'temporarily_unavailable', description: 'The service is temporarily unavailable.', headers: [['Retry-After', '1']] };

/** What a failure means on an OAuth endpoint. */
function answer(f: Failure): OAuthAnswer {
  switch (f.kind) {
    case 'oauth':
      return { status: f.status, error: f.code, description: f.message };
    case 'refused':
      // RFC 6749 §5.2: invalid_client answers 401 with the scheme the client may use.
      if (f.code === 'unauthenticated') return { status: 401, error: 'invalid_client', description: 'Client authentication failed.', headers: [['WWW-Authenticate', 'Basic realm="custos"']] };
      if (f.code === 'rate_limited') {
        return {
          status: 429,
          error: 'slow_down',
          description: 'Too many attempts. Try again later.',
          headers: [...(f.retryAfter === undefined ? [] : ([['Retry-After', String(f.retryAfter)]] as [string, string][])), ...Object.entries(f.headers ?? {})],
        };
      }
      if (f.code === 'unavailable' || f.code === 'audit_unavailable') return UNAVAILABLE;
      // An authenticated client without the permission the endpoint needs (introspection is for resource servers).
      if (f.code === 'forbidden') return { status: 403, error: 'unauthorized_client', description: f.message };
      // A dataset the request names does not exist (the caller has authenticated by then).
      if (f.code === 'not_found') return { status: 400, error: 'invalid_authorization_details', description: f.message };
      // Anything else refused before the handler ran (a forbidden form key, say): one generic answer.
      return { status: 400, error: 'invalid_request', description: 'The request is malformed.' };
    case 'body':
      return { status: f.status, error: 'invalid_request', description: f.status === 400 ? 'The request body could not be read.' : f.message, headers: f.close ? [['Connection', 'close']] : [] };
    case 'unavailable':
    case 'deadline':
      return UNAVAILABLE;
    case 'internal':
      return { status: 500, error: 'server_error', description: 'An unexpected error occurred.' };
  }
}

/** The `error` code a failure is answered with on an OAuth endpoint (metrics count token refusals by it). */
export function oauthErrorCode(f: Failure): string {
  return answer(f).error;
}

/** Renders a failure as an RFC 6749 §5.2 error body (node's own response API: it serves the lean hot lane too). */
export function renderOAuth(res: ServerResponse, f: Failure): void {
  const a = answer(f);
  const text = JSON.stringify({ error: a.error, error_description: a.description });
  if (a.headers) for (const [k, v] of a.headers) res.setHeader(k, v);
  res.statusCode = a.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  // RFC 6749 §5.1 asks this of token responses; errors are no more cacheable.
  res.setHeader('Pragma', 'no-cache');
  res.end(text);
}
