/**
 * The refusals of the OAuth endpoints, in OAuth's own terms: RFC 6749 §5.2
 * error codes (and RFC 9396 §5's for authorization details). They carry no
 * HTTP status: http/oauthErrors.ts renders them.
 */
import { CustosError } from '../errors.ts';

/** The error codes of the token endpoint: RFC 6749 §5.2, RFC 9396 §5 (authorization details) and §4.1.2.1 (temporarily unavailable, server error). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'invalid_authorization_details'
  | 'temporarily_unavailable'
  | 'server_error';

/** An OAuth 2.0 error (RFC 6749 §5.2, RFC 9396 §5): answered as `{error, error_description}`; its HTTP status is the renderer's (http/oauthErrors.ts). */
export class OAuthError extends CustosError<OAuthErrorCode> {
  constructor(error: OAuthErrorCode, description: string, detail?: unknown) {
    super(error, description, detail);
  }
}
