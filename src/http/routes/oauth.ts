/**
 * The OAuth 2.0 surface for training jobs and dataset servers: metadata
 * (RFC 8414), the token endpoint (client credentials with RFC 9396
 * authorization details), introspection (RFC 7662) and revocation
 * (RFC 7009). Errors here are RFC 6749 `{error, error_description}` bodies,
 * not problem documents, so off-the-shelf OAuth clients understand them.
 */
import type { Response } from 'express';
import { z } from 'zod';
import { authenticateClientAssertion, JWT_BEARER } from '../../auth/clientAssertion.ts';
import { authenticateBasicHeader, isBasic } from '../../auth/clientCredentials.ts';
import type { AuthContext } from '../../auth/context.ts';
import { CustosError, RateLimitedError, UnauthenticatedError } from '../../errors.ts';
import { issueToken, JobMetadata, OAuthError, parseAuthorizationDetails } from '../../tokens/issueToken.ts';
import { verifySignature, verifyToken } from '../../tokens/verifyToken.ts';
import type { AppDeps } from '../deps.ts';
import type { RequestMeta } from '../../audit/log.ts';
import { defineRoute, type AnyRoute, type RouteResult } from '../route.ts';

const OAuthErrorBody = z.object({ error: z.string(), error_description: z.string().optional() });
/** Form fields of private_key_jwt client authentication (RFC 7523 §2.2), accepted on every OAuth endpoint. */
const ClientAssertionFields = {
  client_assertion_type: z.string().max(200).optional(),
  client_assertion: z.string().max(20_000).optional(),
};
/** The body of introspection and revocation: a token (RFC 7662 §2.1, RFC 7009 §2.1). */
const TokenForm = z.looseObject({ token: z.string().max(20_000), token_type_hint: z.string().max(100).optional(), ...ClientAssertionFields });

/** Runs an OAuth handler, answering domain errors the RFC 6749 way (unavailability stays a 503 problem). */
async function oauth(res: Response, fn: () => Promise<RouteResult>): Promise<RouteResult> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OAuthError) return { status: err.status, body: { error: err.code, error_description: err.message } };
    if (err instanceof UnauthenticatedError) {
      // RFC 6749 §5.2: invalid_client with 401 and the scheme the client used.
      res.setHeader('WWW-Authenticate', 'Basic realm="custos"');
      return { status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed.' } };
    }
    if (err instanceof RateLimitedError) {
      res.setHeader('Retry-After', String(err.retryAfterSeconds));
      return { status: 429, body: { error: 'slow_down', error_description: 'Too many attempts. Try again later.' } };
    }
    if (err instanceof CustosError && err.code === 'not_found') return { status: 400, body: { error: 'invalid_authorization_details', error_description: err.message } };
    throw err;
  }
}

/** Authenticates the calling client (client_secret_basic or private_key_jwt) or throws UnauthenticatedError. */
async function client(deps: AppDeps, header: string | undefined, body: Record<string, unknown>, meta: RequestMeta): Promise<AuthContext> {
  const issuer = deps.settings.publicUrl;
  if (body.client_assertion_type !== undefined || body.client_assertion !== undefined) {
    // RFC 6749 §2.3: a client uses one authentication method per request.
    if (header) throw new OAuthError('invalid_request', 'Use one client authentication method.');
    if (body.client_assertion_type !== JWT_BEARER || typeof body.client_assertion !== 'string') {
      throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER}.`);
    }
    // The audience may be the token endpoint (RFC 7523) or the issuer (RFC 8414 clients often use it).
    return authenticateClientAssertion(deps.auth, { assertion: body.client_assertion, audiences: [`${issuer}/oauth2/token`, issuer], meta });
  }
  // The same cached client_secret_basic check as the decision API.
  if (!isBasic(header)) throw new UnauthenticatedError('Client authentication is required.');
  return authenticateBasicHeader(deps.auth, header, meta);
}

/** OAuth routes. */
export function oauthRoutes(deps: AppDeps): AnyRoute[] {
  const issuer = deps.settings.publicUrl;
  const verifyDeps = () => ({ keys: deps.keys, state: deps.tokens.state, facts: deps.decisions.facts, clock: deps.clock, issuer });
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
      // Client authentication happens inside, so failures answer the OAuth way.
      auth: { kind: 'public' },
      hot: true,
      changesFacts: false,
      bodyType: 'form',
      // RFC 6749 §3.2: parameters the server does not understand are ignored (clients often add client_id).
      body: z.looseObject({
        grant_type: z.string().max(100),
        ...ClientAssertionFields,
        authorization_details: z.string().max(20_000).optional(),
        job_id: z.string().max(200).optional(),
        image_digest: z.string().max(100).optional(),
        scope: z.string().max(1000).optional(),
      }),
      responses: {
        200: {
          description: 'Token',
          schema: z.object({ access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.number().int(), authorization_details: z.array(z.record(z.string(), z.unknown())) }),
        },
        400: { description: 'invalid_request, unsupported_grant_type, invalid_authorization_details, access_denied (with the decision id and reasons)', schema: OAuthErrorBody },
        401: { description: 'invalid_client', schema: OAuthErrorBody },
      },
      handler: async ({ body, req, res, meta }) =>
        oauth(res, async () => {
          const caller = await client(deps, req.headers.authorization, body, meta);
          if (body.grant_type !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only client_credentials is supported.');
          const detail = parseAuthorizationDetails(body.authorization_details);
          const job = JobMetadata.safeParse({ job_id: body.job_id, ...(body.image_digest ? { image_digest: body.image_digest } : {}) });
          if (!job.success) throw new OAuthError('invalid_request', `job metadata: ${job.error.issues[0]!.path.join('.')} ${job.error.issues[0]!.message}`);
          const token = await issueToken(
            { decisions: deps.decisions, keys: deps.keys, settings: deps.tokens.settings },
            { client: caller, detail, job: job.data, meta },
          );
          res.setHeader('Pragma', 'no-cache');
          return { body: token };
        }),
    }),
    defineRoute({
      method: 'post',
      path: '/oauth2/introspect',
      summary: 'Token introspection for dataset servers (RFC 7662)',
      tag: 'tokens',
      auth: { kind: 'public' },
      changesFacts: false,
      bodyType: 'form',
      body: TokenForm,
      responses: { 200: { description: '{active: false} or the claims of an active token', schema: z.record(z.string(), z.unknown()) }, 401: { description: 'invalid_client', schema: OAuthErrorBody } },
      handler: async ({ body, req, res, meta }) =>
        oauth(res, async () => {
          const caller = await client(deps, req.headers.authorization, body, meta);
          // Introspection is for resource servers: the enforcement-point permission.
          if (!caller.permissions.has('pdp:check')) throw new OAuthError('unauthorized_client', 'This client may not introspect tokens.', 403);
          const v = await verifyToken(verifyDeps(), body.token);
          if (!v.active) return { body: { active: false } };
          return { body: { active: true, token_type: 'Bearer', ...v.claims } };
        }),
    }),
    defineRoute({
      method: 'post',
      path: '/oauth2/revoke',
      summary: 'Revoke a token (RFC 7009): by the client it was issued to, or a resource server',
      tag: 'tokens',
      auth: { kind: 'public' },
      bodyType: 'form',
      body: TokenForm,
      responses: { 200: { description: 'Revoked (or unknown: RFC 7009 answers the same)' }, 401: { description: 'invalid_client', schema: OAuthErrorBody } },
      handler: async ({ body, req, res, meta }) =>
        oauth(res, async () => {
          const caller = await client(deps, req.headers.authorization, body, meta);
          // Only the signature and claims matter here: a token that is inactive for now (its principal
          // disabled, say) must stay revoked when it would otherwise come back.
          const v = await verifySignature(verifyDeps(), body.token);
          if (v.active && (v.claims.sub === caller.principalId || caller.permissions.has('pdp:check'))) {
            await deps.tokens.state.revoke(v.claims.jti, new Date(v.claims.exp * 1000), deps.clock.now());
            await deps.audit.record({ type: 'token.revoked', outcome: 'success', actorId: caller.principalId, subjectId: v.claims.sub, meta, details: { jti: v.claims.jti } });
          }
          return { status: 200, body: {} };
        }),
    }),
  ];
}
