/**
 * The OAuth 2.0 surface for training jobs and dataset servers: metadata
 * (RFC 8414), the token endpoint (client credentials with RFC 9396
 * authorization details), introspection (RFC 7662) and revocation
 * (RFC 7009). Errors here are RFC 6749 `{error, error_description}` bodies,
 * not problem documents, so off-the-shelf OAuth clients understand them
 * (`errors: 'oauth'`, rendered by src/http/oauthErrors.ts — also for
 * oversized or unreadable forms). The client authenticates before any field
 * is looked at, and unauthenticated callers get no field names back.
 */
import { z } from 'zod';
import { ForbiddenError } from '../../errors.ts';
import { clientAuthenticator } from '../../tokens/clientAuthenticator.ts';
import { issueToken, type IssueTokenDeps } from '../../tokens/issueToken.ts';
import { authenticateClient, tokenParam, TokenFormDoc, TokenRequestDoc } from '../../tokens/oauthRequest.ts';
import { serves } from '../../tokens/resourceServers.ts';
import { revokeToken } from '../../tokens/revokeToken.ts';
import { liveState, verifySignature } from '../../tokens/verifyToken.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const OAuthErrorBody = z.object({ error: z.string(), error_description: z.string().optional() });

/** RFC 6749 §5.1: a token response must not be stored or cached. */
const NO_STORE: Readonly<Record<string, string>> = Object.freeze({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });

/** OAuth routes. */
export function oauthRoutes(deps: AppDeps): AnyRoute[] {
  const issuer = deps.settings.publicUrl;
  const clients = clientAuthenticator(deps.auth, issuer);
  const limiter = deps.rateLimits;
  const tokenDeps: IssueTokenDeps = {
    clients,
    decisions: deps.decisions,
    keys: deps.keys,
    settings: deps.tokens.settings,
    // The client's rate limit (docs/rate-limits.md); the address's is applied by the runner, before the client authenticates.
    admit: limiter && ((client, meta) => limiter.admitClient(client, 'token', 1, meta.ip)),
  };
  const verifyDeps = { keys: deps.keys, state: deps.tokens.state, facts: deps.decisions.facts, clock: deps.clock, issuer };
  return [
    defineRoute({
      method: 'get',
      path: '/.well-known/oauth-authorization-server',
      summary: 'Authorization server metadata (RFC 8414)',
      tag: 'tokens',
      auth: { kind: 'public' },
      responses: { 200: { description: 'Metadata', schema: z.record(z.string(), z.unknown()) } },
      handler: async () => ({
        body: {
          issuer,
          token_endpoint: `${issuer}/oauth2/token`,
          jwks_uri: `${issuer}/.well-known/jwks.json`,
          introspection_endpoint: `${issuer}/oauth2/introspect`,
          revocation_endpoint: `${issuer}/oauth2/revoke`,
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
          introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
          revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
          token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256', 'PS256'],
          authorization_details_types_supported: ['dataset_access'],
          response_types_supported: [],
        },
      }),
    }),
    defineRoute({
      method: 'post',
      path: '/oauth2/token',
      summary: 'Client credentials grant: a scoped, short-lived dataset token (RFC 6749 §4.4, RFC 9396, RFC 9068)',
      tag: 'tokens',
      // Client authentication happens inside, before any field is looked at, so failures answer the OAuth way.
      auth: { kind: 'public' },
      hot: true,
      lane: 'token',
      changesFacts: false,
      bodyType: 'form',
      errors: 'oauth',
      // RFC 6749 §3.2: parameters the server does not understand are ignored (clients often add scope).
      body: TokenRequestDoc,
      responses: {
        200: {
          description: 'Token',
          schema: z.object({ access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number().int(), authorization_details: z.array(z.record(z.string(), z.unknown())) }),
        },
        400: { description: 'invalid_request, unsupported_grant_type, invalid_authorization_details, access_denied (with the decision id and reasons)', schema: OAuthErrorBody },
        401: { description: 'invalid_client', schema: OAuthErrorBody },
        413: { description: 'invalid_request: the body is too large', schema: OAuthErrorBody },
        503: { description: 'temporarily_unavailable', schema: OAuthErrorBody },
      },
      handler: async ({ body, headers, meta }) => ({ body: await issueToken(tokenDeps, { authorization: headers.authorization, form: body, meta }), headers: NO_STORE }),
    }),
    defineRoute({
      method: 'post',
      path: '/oauth2/introspect',
      summary: 'Token introspection for dataset servers (RFC 7662), about the datasets each one serves',
      tag: 'tokens',
      auth: { kind: 'public' },
      changesFacts: false,
      bodyType: 'form',
      errors: 'oauth',
      body: TokenFormDoc,
      responses: {
        200: { description: '{active: false} (also for any malformed token, or one for a dataset the caller does not serve) or the claims of an active token', schema: z.record(z.string(), z.unknown()) },
        400: { description: 'invalid_request (no token parameter)', schema: OAuthErrorBody },
        401: { description: 'invalid_client', schema: OAuthErrorBody },
        403: { description: 'unauthorized_client: not a resource server', schema: OAuthErrorBody },
      },
      handler: async ({ body, headers, meta }) => {
        const caller = await authenticateClient(clients, headers.authorization, body, meta);
        // Introspection is for resource servers: the enforcement-point permission.
        if (!caller.permissions.has('pdp:check')) throw new ForbiddenError('This client may not introspect tokens.');
        const token = tokenParam(body);
        const signed = await verifySignature(verifyDeps, token);
        // RFC 7662 §4: a resource server learns only about tokens for the datasets it serves; for any
        // other token it is told `active: false`, as for a dead one (and no live state is read for it).
        if (!signed.active || !serves(caller, signed.claims)) return { body: { active: false } };
        const v = await liveState(verifyDeps, signed.claims);
        if (!v.active) return { body: { active: false } };
        return { body: { active: true, token_type: 'Bearer', ...v.claims } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/oauth2/revoke',
      summary: 'Revoke a token (RFC 7009): by the client it was issued to, or a resource server of its dataset',
      tag: 'tokens',
      auth: { kind: 'public' },
      bodyType: 'form',
      errors: 'oauth',
      body: TokenFormDoc,
      responses: {
        200: { description: 'Revoked, or not this client\'s to revoke, or not a token at all (RFC 7009 §2.2 answers the same)' },
        400: { description: 'invalid_request (no token parameter)', schema: OAuthErrorBody },
        401: { description: 'invalid_client', schema: OAuthErrorBody },
      },
      handler: async ({ body, headers, meta }) => {
        const caller = await authenticateClient(clients, headers.authorization, body, meta);
        const token = tokenParam(body);
        // Only the signature and claims matter here: a token that is inactive for now (its principal
        // disabled, say) must stay revoked when it would otherwise come back.
        const v = await verifySignature(verifyDeps, token);
        if (v.active && (v.claims.sub === caller.principalId || (caller.permissions.has('pdp:check') && serves(caller, v.claims)))) {
          await revokeToken({ tokens: deps.tokens.state, audit: deps.audit, clock: deps.clock }, { claims: v.claims, actorId: caller.principalId, meta });
        }
        return { status: 200, body: {} };
      },
    }),
  ];
}
