/**
 * Client authentication for the OAuth endpoints over the service's
 * credentials (src/auth/clients): client_secret_basic through the same
 * cached check as the decision API, private_key_jwt with an assertion whose
 * audience is the token endpoint (RFC 7523 §3) or the issuer (RFC 8414
 * clients often use it). Built once per route table.
 */
import { authenticateClientAssertion } from '../auth/clients/clientAssertion.ts';
import { authenticateBasicHeader } from '../auth/clients/clientCredentials.ts';
import type { AuthDeps } from '../auth/deps.ts';
import type { ClientAuthenticator } from './oauthRequest.ts';

/** The {@link ClientAuthenticator} of the issuer `issuer`. */
export function clientAuthenticator(auth: AuthDeps, issuer: string): ClientAuthenticator {
  const audiences = [`${issuer}/oauth2/token`, issuer];
  return {
    basic: (header, meta) => authenticateBasicHeader(auth, header, meta),
    assertion: (assertion, meta) => authenticateClientAssertion(auth, { assertion, audiences, meta }),
  };
}
