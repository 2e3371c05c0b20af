/**
 * private_key_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core
 * §9): the client signs a short-lived JWT with a key whose public part it
 * registered. The assertion must name the client as `iss` and `sub`, this
 * server (token endpoint or issuer) as `aud`, expire within five minutes,
 * and carry a `jti` that has never been seen: each assertion works once.
 */
import { createPublicKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { RequestMeta } from '../../audit/log.ts';
import { UnauthenticatedError } from '../../errors.ts';
import { clientContext } from './clientCredentials.ts';
import type { AuthContext } from '../context.ts';
import type { AuthDeps } from '../deps.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from '../throttle.ts';

/** The assertion type RFC 7523 defines. */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ALGORITHMS = ['ES256', 'RS256', 'PS256'] as const;
const MAX_LIFETIME_SECONDS = 300;

/** Authenticates a client by its signed assertion; throws UnauthenticatedError. */
export async function authenticateClientAssertion(
  deps: AuthDeps,
  options: { assertion: string; audiences: string[]; meta: RequestMeta },
): Promise<AuthContext> {
  // Every refusal is audited (HIPAA §164.312(b)); reasons are fixed text and the client id is
  // recorded only once it has passed its pattern, so nothing the caller chose can break the event.
  const fail = async (reason: string, clientId?: string) => {
    await deps.audit.record({ type: 'client.auth', outcome: 'failure', meta: options.meta, details: { method: 'private_key_jwt', reason, ...(clientId ? { client_id: clientId } : {}) } });
    return new UnauthenticatedError('The client assertion is not valid.', { reason, clientId });
  };
  const decoded = jwt.decode(options.assertion, { complete: true });
  if (!decoded || typeof decoded.payload !== 'object' || decoded.payload === null) throw await fail('not a JWT');
  const header = decoded.header as unknown as Record<string, unknown>;
  const payload = decoded.payload as Record<string, unknown>;
  if (!ALGORITHMS.includes(header.alg as (typeof ALGORITHMS)[number])) throw await fail('algorithm not allowed');
  // Keys come only from the client's registration: nothing is fetched from the token.
  if (['jku', 'x5u', 'jwk', 'x5c'].some((h) => h in header)) throw await fail('forbidden header');
  const clientId = payload.iss;
  if (typeof clientId !== 'string' || clientId !== payload.sub || !/^[A-Za-z0-9_-]{1,64}$/.test(clientId)) throw await fail('iss and sub must be the client id');

  const keys = attemptKeys(`client:${clientId}`, options.meta);
  const row = await deps.clients.findByClientId(clientId);
  await reserveAttempt(deps, keys, options.meta, row?.principalId);
  if (!row?.jwks) throw await fail('no registered keys', clientId);
  const candidates = row.jwks.keys.filter((k) => (header.kid === undefined || k.kid === header.kid) && (k.alg === undefined || k.alg === header.alg));
  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  let claims: Record<string, unknown> | undefined;
  for (const jwk of candidates) {
    try {
      claims = jwt.verify(options.assertion, createPublicKey({ key: jwk as never, format: 'jwk' }), {
        algorithms: [header.alg as jwt.Algorithm],
        audience: options.audiences as [string, ...string[]],
        issuer: clientId,
        subject: clientId,
        clockTimestamp: nowSeconds,
        clockTolerance: 5,
      }) as Record<string, unknown>;
      break;
    } catch {
      /* try the next registered key */
    }
  }
  if (!claims) throw await fail('signature, audience or expiry not valid', clientId);
  if (typeof claims.exp !== 'number' || claims.exp - nowSeconds > MAX_LIFETIME_SECONDS) throw await fail('exp missing or too far ahead', clientId);
  if (typeof claims.iat === 'number' && claims.iat > nowSeconds + 60) throw await fail('iat in the future', clientId);
  if (typeof claims.jti !== 'string' || claims.jti.length < 8 || claims.jti.length > 200) throw await fail('jti missing', clientId);
  if (!(await deps.clients.useAssertionJti(clientId, claims.jti, new Date(claims.exp * 1000)))) throw await fail('assertion replayed', clientId);
  await attemptSucceeded(deps, keys);
  const auth = await clientContext(deps, row);
  return { ...auth, amr: ['private_key_jwt'] };
}
