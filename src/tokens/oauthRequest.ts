/**
 * Every OAuth form Custos reads, parsed here and nowhere else: client
 * authentication (RFC 6749 §2.3: client_secret_basic in the Authorization
 * header, or private_key_jwt in the body, RFC 7523 §2.2), the token request
 * (RFC 6749 §4.4.2 with one RFC 9396 `dataset_access` authorization detail,
 * which alone says the dataset, columns and purpose), and the `token`
 * parameter of introspection and revocation (RFC 7662 §2.1, RFC 7009 §2.1).
 *
 * Order is part of the contract: the client authenticates before any other
 * field is looked at, so an unauthenticated caller learns no field names.
 * Then each field may appear once (RFC 6749 §3.2) and must match its schema,
 * and refusals name the field. Parameters the endpoint does not use are
 * ignored (RFC 6749 §3.2): `scope` (clients often send one), and an RFC 8707
 * `resource` too, since a token's audience is its dataset's own.
 */
import { z } from 'zod';
import type { RequestMeta } from '../audit/log.ts';
import { JWT_BEARER } from '../auth/clients/clientAssertion.ts';
import { isBasic } from '../auth/clients/clientCredentials.ts';
import type { AuthContext } from '../auth/context.ts';
import { PURPOSES } from '../catalog/identifiers.ts';
import { UnauthenticatedError } from '../errors.ts';
import { OAuthError } from './oauthError.ts';

/**
 * A form value as the parser hands it over: a string, or an array when the
 * key is repeated. The route accepts any such form, so that nothing is
 * refused field by field before the client has authenticated.
 */
const FormValue = z.union([z.string(), z.array(z.string())]);
const field = (description: string) => FormValue.optional().describe(description);
/** Form fields of client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2), accepted on every OAuth endpoint. */
const ClientFields = {
  client_id: field('Optional; must name the client that authenticates (RFC 6749 §2.3.1)'),
  client_assertion_type: field('private_key_jwt: urn:ietf:params:oauth:client-assertion-type:jwt-bearer'),
  client_assertion: field('private_key_jwt: the signed client assertion (RFC 7523)'),
};
/** The body of introspection and revocation (RFC 7662 §2.1, RFC 7009 §2.1), as the route accepts and documents it. */
export const TokenFormDoc = z.looseObject({ token: field('The token (required, once)'), token_type_hint: field('Ignored: Custos issues one kind of token'), ...ClientFields });
/** The token request (RFC 6749 §4.4.2 plus RFC 9396), as the route accepts and documents it. */
export const TokenRequestDoc = z.looseObject({
  grant_type: field('client_credentials'),
  authorization_details: field('RFC 9396: a JSON array with one dataset_access detail'),
  job_id: field('The training job this token is for'),
  image_digest: field('Optional: sha256:<64 hex> of the job image'),
  scope: field('Ignored'),
  ...ClientFields,
});

/** How a client proves who it is: tokens/clientAuthenticator.ts over the credential stores (tests: a fake). */
export interface ClientAuthenticator {
  /** client_secret_basic: an `Authorization: Basic` header (RFC 6749 §2.3.1); throws UnauthenticatedError. */
  basic(header: string, meta: RequestMeta): Promise<AuthContext>;
  /** private_key_jwt: a signed client assertion (RFC 7523 §2.2); throws UnauthenticatedError. */
  assertion(assertion: string, meta: RequestMeta): Promise<AuthContext>;
}

/**
 * Authenticates the calling client (client_secret_basic or private_key_jwt)
 * before anything else about the request is looked at; throws
 * UnauthenticatedError (→ invalid_client). A `client_id` parameter that
 * names another client than the one authenticated is refused, not ignored
 * (RFC 6749 §2.3.1, §5.2).
 */
export async function authenticateClient(clients: ClientAuthenticator, authorization: string | undefined, form: Record<string, unknown>, meta: RequestMeta): Promise<AuthContext> {
  let caller: AuthContext;
  if (form.client_assertion_type !== undefined || form.client_assertion !== undefined) {
    // RFC 6749 §2.3: a client uses one authentication method per request.
    if (authorization) throw new OAuthError('invalid_request', 'Use one client authentication method.');
    if (form.client_assertion_type !== JWT_BEARER || typeof form.client_assertion !== 'string' || form.client_assertion.length > 20_000) {
      throw new UnauthenticatedError('The client assertion is not valid.', { reason: 'client_assertion_type or client_assertion malformed' });
    }
    caller = await clients.assertion(form.client_assertion, meta);
  } else {
    if (!isBasic(authorization)) throw new UnauthenticatedError('Client authentication is required.');
    caller = await clients.basic(authorization, meta);
  }
  if (form.client_id !== undefined && form.client_id !== caller.clientId) {
    throw new UnauthenticatedError('The client credentials are not valid.', { reason: 'client_id names another client than the one authenticated', clientId: caller.clientId });
  }
  return caller;
}

/** One `dataset_access` authorization detail (RFC 9396 §2), as requested. */
const DatasetAccess = z
  .strictObject({
    type: z.literal('dataset_access'),
    dataset: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/),
    actions: z.array(z.literal('read')).min(1).max(1),
    columns: z.union([z.literal('*'), z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/)).min(1).max(2000)]),
    purpose: z.enum(PURPOSES),
  })
  .superRefine((d, ctx) => {
    // A column named twice is a malformed request (RFC 9396 §5: invalid_authorization_details), not one column.
    if (!Array.isArray(d.columns)) return;
    const seen = new Set<string>();
    const i = d.columns.findIndex((c) => seen.size === seen.add(c).size);
    if (i !== -1) ctx.addIssue({ code: 'custom', path: ['columns', i], message: 'this column is already listed' });
  });

/** A `dataset_access` authorization detail: the dataset, the columns ('*': all) and the purpose. */
export type DatasetAccessDetail = z.infer<typeof DatasetAccess>;

/** Job metadata carried in the token and its record. */
const JobMetadata = z.strictObject({
  job_id: z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII'),
  image_digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex>').optional(),
});

/** The training job a token is for. */
export type Job = z.infer<typeof JobMetadata>;

/** A token request's own fields, as checked once the client has authenticated. */
export interface TokenRequest {
  detail: DatasetAccessDetail;
  job: Job;
}

/** The token request's fields and their first checks; every other parameter is ignored. */
const TokenRequestFields = z.object({
  grant_type: z.string().max(100),
  authorization_details: z.string().max(20_000).optional(),
  job_id: z.string().max(200).optional(),
  image_digest: z.string().max(100).optional(),
});
const TOKEN_REQUEST_KEYS = Object.keys(TokenRequestFields.shape);

/**
 * The fields of an authenticated token request, in this order: none
 * repeated (invalid_request), each within its bounds (invalid_request), the
 * grant (unsupported_grant_type), the authorization detail
 * (invalid_authorization_details), the job (invalid_request).
 */
export function parseTokenRequest(form: Record<string, unknown>): TokenRequest {
  for (const key of TOKEN_REQUEST_KEYS) {
    if (Array.isArray(form[key])) throw new OAuthError('invalid_request', `${key} must not be repeated.`);
  }
  const fields = TokenRequestFields.safeParse(form);
  if (!fields.success) {
    const i = fields.error.issues[0]!;
    throw new OAuthError('invalid_request', `${i.path.join('.')}: ${i.message}`);
  }
  const f = fields.data;
  if (f.grant_type !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only client_credentials is supported.');
  const detail = parseAuthorizationDetails(f.authorization_details);
  const job = JobMetadata.safeParse({ job_id: f.job_id, ...(f.image_digest ? { image_digest: f.image_digest } : {}) });
  if (!job.success) throw new OAuthError('invalid_request', `job metadata: ${job.error.issues[0]!.path.join('.')} ${job.error.issues[0]!.message}`);
  return { detail, job: job.data };
}

const DetailList = z.array(z.unknown()).min(1);

/** The `authorization_details` parameter: a JSON array of exactly one valid detail; throws invalid_authorization_details. */
function parseAuthorizationDetails(raw: string | undefined): DatasetAccessDetail {
  let value: unknown;
  try {
    value = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    throw new OAuthError('invalid_authorization_details', 'authorization_details is not valid JSON.');
  }
  const list = DetailList.safeParse(value);
  if (!list.success) throw new OAuthError('invalid_authorization_details', 'authorization_details must be a non-empty JSON array.');
  if (list.data.length !== 1) throw new OAuthError('invalid_authorization_details', 'Request one dataset_access detail per token.');
  const detail = DatasetAccess.safeParse(list.data[0]);
  if (!detail.success) {
    const i = detail.error.issues[0]!;
    throw new OAuthError('invalid_authorization_details', `authorization_details[0].${i.path.join('.')}: ${i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message}`);
  }
  return detail.data;
}

/** The `token` parameter of introspection and revocation: required, once (RFC 7662 §2.1, RFC 7009 §2.1); any string is looked at. */
export function tokenParam(form: Record<string, unknown>): string {
  const token = form.token;
  if (typeof token !== 'string') throw new OAuthError('invalid_request', Array.isArray(token) ? 'token must not be repeated.' : 'token is required.');
  return token;
}
