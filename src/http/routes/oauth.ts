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
import { authenticateClientAssertion, JWT_BEARER } from '../../auth/clients/clientAssertion.ts';
import { authenticateBasicHeader, isBasic } from '../../auth/clients/clientCredentials.ts';
import type { AuthContext } from '../../auth/context.ts';
import { ForbiddenError, UnauthenticatedError } from '../../errors.ts';
import { issueToken, JobMetadata, OAuthError, parseAuthorizationDetails } from '../../tokens/issueToken.ts';
import { serves } from '../../tokens/resourceServers.ts';
import { revokeToken } from '../../tokens/revokeToken.ts';
import { liveState, verifySignature } from '../../tokens/verifyToken.ts';
import type { AppDeps } from '../deps.ts';
import type { RequestMeta } from '../../audit/log.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const OAuthErrorBody = z.object({ error: z.string(), error_description: z.string().optional() });

/**
 * A form value as the parser hands it over: a string, or an array when the
 * key is repeated. The route layer accepts any such form, so that nothing is
 * refused field by field before the client has authenticated; each handler
 * then checks its fields with {@link formFields}.
 */
const FormValue = z.union([z.string(), z.array(z.string())]);
const field = (description: string) => FormValue.optional().describe(description);
/** Form fields of client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2), accepted on every OAuth endpoint. */
const ClientFields = {
  client_id: field('Optional; must name the client that authenticates (RFC 6749 §2.3.1)'),
  client_assertion_type: field('private_key_jwt: urn:ietf:params:oauth:client-assertion-type:jwt-bearer'),
  client_assertion: field('private_key_jwt: the signed client assertion (RFC 7523)'),
};
/** The body of introspection and revocation (RFC 7662 §2.1, RFC 7009 §2.1), as documented. */
const TokenFormDoc = z.looseObject({ token: field('The token (required, once)'), token_type_hint: field('Ignored: Custos issues one kind of token'), ...ClientFields });
/** The token request (RFC 6749 §4.4.2 plus RFC 9396), as documented. */
const TokenRequestDoc = z.looseObject({
  grant_type: field('client_credentials'),
  authorization_details: field('RFC 9396: a JSON array with one dataset_access detail'),
  job_id: field('The training job this token is for'),
  image_digest: field('Optional: sha256:<64 hex> of the job image'),
  scope: field('Ignored'),
  ...ClientFields,
});

/** The token request's fields, checked once the client has authenticated. */
const TokenRequestFields = z.object({
  grant_type: z.string().max(100),
  authorization_details: z.string().max(20_000).optional(),
  job_id: z.string().max(200).optional(),
  image_digest: z.string().max(100).optional(),
});

/**
 * The endpoint's own fields of an authenticated request: each at most once
 * (RFC 6749 §3.2) and as the schema says; unknown parameters are ignored.
 * Refusals name the field: the caller has authenticated.
 */
function formFields<T extends Record<string, unknown>>(schema: z.ZodObject, body: Record<string, unknown>): T {
  for (const key of Object.keys(schema.shape)) {
    if (Array.isArray(body[key])) throw new OAuthError('invalid_request', `${key} must not be repeated.`);
  }
  const r = schema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new OAuthError('invalid_request', `${i.path.join('.')}: ${i.message}`);
  }
  return r.data as T;
}

/**
 * Authenticates the calling client (client_secret_basic or private_key_jwt)
 * before anything else about the request is looked at; throws
 * UnauthenticatedError (→ invalid_client). A `client_id` parameter that
 * names another client than the one authenticated is refused, not ignored
 * (RFC 6749 §2.3.1, §5.2).
 */
async function client(deps: AppDeps, header: string | undefined, body: Record<string, unknown>, meta: RequestMeta): Promise<AuthContext> {
  const issuer = deps.settings.publicUrl;
  let caller: AuthContext;
  if (body.client_assertion_type !== undefined || body.client_assertion !== undefined) {
    // RFC 6749 §2.3: a client uses one authentication method per request.
    if (header) throw new OAuthError('invalid_request', 'Use one client authentication method.');
    if (body.client_assertion_type !== JWT_BEARER || typeof body.client_assertion !== 'string' || body.client_assertion.length > 20_000) {
      throw new UnauthenticatedError('The client assertion is not valid.', { reason: 'client_assertion_type or client_assertion malformed' });
    }
    // The audience may be the token endpoint (RFC 7523) or the issuer (RFC 8414 clients often use it).
    caller = await authenticateClientAssertion(deps.auth, { assertion: body.client_assertion, audiences: [`${issuer}/oauth2/token`, issuer], meta });
  } else {
    // The same cached client_secret_basic check as the decision API.
    if (!isBasic(header)) throw new UnauthenticatedError('Client authentication is required.');
    caller = await authenticateBasicHeader(deps.auth, header, meta);
  }
  if (body.client_id !== undefined && body.client_id !== caller.clientId) {
    throw new UnauthenticatedError('The client credentials are not valid.', { reason: 'client_id names another client than the one authenticated', clientId: caller.clientId });
  }
  return caller;
}

/** The `token` parameter of introspection and revocation: required, once (RFC 7662 §2.1, RFC 7009 §2.1); any string is looked at. */
function tokenParam(body: Record<string, unknown>): string {
  const token = body.token;
  if (typeof token !== 'string') throw new OAuthError('invalid_request', Array.isArray(token) ? 'token must not be repeated.' : 'token is required.');
  return token;
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
      // Client authentication happens inside, before any field is looked at, so failures answer the OAuth way.
      auth: { kind: 'public' },
      hot: true,
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
      handler: async ({ body, headers, meta }) => {
        const caller = await client(deps, headers.authorization, body, meta);
        const f = formFields<z.infer<typeof TokenRequestFields>>(TokenRequestFields, body);
        if (f.grant_type !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only client_credentials is supported.');
        const detail = parseAuthorizationDetails(f.authorization_details);
        const job = JobMetadata.safeParse({ job_id: f.job_id, ...(f.image_digest ? { image_digest: f.image_digest } : {}) });
        if (!job.success) throw new OAuthError('invalid_request', `job metadata: ${job.error.issues[0]!.path.join('.')} ${job.error.issues[0]!.message}`);
        const token = await issueToken(
          { decisions: deps.decisions, keys: deps.keys, settings: deps.tokens.settings },
          { client: caller, detail, job: job.data, meta },
        );
        return { body: token, headers: { Pragma: 'no-cache' } };
      },
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
        const caller = await client(deps, headers.authorization, body, meta);
        // Introspection is for resource servers: the enforcement-point permission.
        if (!caller.permissions.has('pdp:check')) throw new ForbiddenError('This client may not introspect tokens.');
        const token = tokenParam(body);
        const signed = await verifySignature(verifyDeps(), token);
        // RFC 7662 §4: a resource server learns only about tokens for the datasets it serves; for any
        // other token it is told `active: false`, as for a dead one (and no live state is read for it).
        if (!signed.active || !serves(caller, signed.claims)) return { body: { active: false } };
        const v = await liveState(verifyDeps(), signed.claims);
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
        const caller = await client(deps, headers.authorization, body, meta);
        const token = tokenParam(body);
        // Only the signature and claims matter here: a token that is inactive for now (its principal
        // disabled, say) must stay revoked when it would otherwise come back.
        const v = await verifySignature(verifyDeps(), token);
        if (v.active && (v.claims.sub === caller.principalId || (caller.permissions.has('pdp:check') && serves(caller, v.claims)))) {
          await revokeToken({ tokens: deps.tokens.state, audit: deps.audit, clock: deps.clock }, { claims: v.claims, actorId: caller.principalId, meta });
        }
        return { status: 200, body: {} };
      },
    }),
  ];
}
