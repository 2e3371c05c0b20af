/**
 * The client-credentials grant for training jobs (RFC 6749 §4.4) with
 * RFC 9396 authorization details of type `dataset_access`, in the order it
 * happens: evaluate the decision, compute the token's expiry, record the
 * decision with the token's jti, expiry and job, and only then sign. The
 * record has committed before the token exists, so no token is ever without
 * its record; a record that cannot be committed means no token (503).
 * Tokens are RFC 9068 JWTs signed ES256.
 */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import type { DecisionRecord } from '../audit/decisionLog.ts';
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { PURPOSES } from '../catalog/identifiers.ts';
import { evaluate } from '../decisions/evaluate.ts';
import type { DecisionDeps } from '../decisions/makeDecision.ts';
import { record, type TokenRecord } from '../decisions/record.ts';
import { CustosError } from '../errors.ts';
import type { ActiveKey, KeyRing } from './keyRing.ts';
import { tokenExpiry, type TokenLifetime } from './tokenExpiry.ts';

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

/** One `dataset_access` authorization detail, as requested. */
export const DatasetAccess = z.strictObject({
  type: z.literal('dataset_access'),
  dataset: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/),
  actions: z.array(z.literal('read')).min(1).max(1),
  columns: z.union([z.literal('*'), z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/)).min(1).max(2000)]),
  purpose: z.enum(PURPOSES),
}).superRefine((d, ctx) => {
  // A column named twice is a malformed request (RFC 9396 §5: invalid_authorization_details), not one column.
  if (!Array.isArray(d.columns)) return;
  const seen = new Set<string>();
  const i = d.columns.findIndex((c) => seen.size === seen.add(c).size);
  if (i !== -1) ctx.addIssue({ code: 'custom', path: ['columns', i], message: 'this column is already listed' });
});

/** Job metadata carried in the token and the record. */
export const JobMetadata = z.strictObject({
  job_id: z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII'),
  image_digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex>').optional(),
});

/** Settings of {@link issueToken}: the issuer and the lifetimes. */
export interface TokenSettings extends TokenLifetime {
  issuer: string;
}

/** The token response (RFC 6749 §5.1 plus RFC 9396 §7). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  authorization_details: z.infer<typeof DatasetAccess>[];
}

/** Parses the `authorization_details` form parameter; throws invalid_authorization_details. */
export function parseAuthorizationDetails(raw: unknown): z.infer<typeof DatasetAccess> {
  let value: unknown;
  try {
    value = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    throw new OAuthError('invalid_authorization_details', 'authorization_details is not valid JSON.');
  }
  const list = z.array(z.unknown()).min(1).safeParse(value);
  if (!list.success) throw new OAuthError('invalid_authorization_details', 'authorization_details must be a non-empty JSON array.');
  if (list.data.length !== 1) throw new OAuthError('invalid_authorization_details', 'Request one dataset_access detail per token.');
  const detail = DatasetAccess.safeParse(list.data[0]);
  if (!detail.success) {
    const i = detail.error.issues[0]!;
    throw new OAuthError('invalid_authorization_details', `authorization_details[0].${i.path.join('.')}: ${i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message}`);
  }
  return detail.data;
}

/** The JOSE header of every token (RFC 9068 §2.1); `kid` comes with the key. */
const HEADER = { alg: 'ES256', typ: 'at+jwt' } as const;

/** Decides, records and (on allow) signs one dataset token for the calling service. */
export async function issueToken(
  deps: { decisions: DecisionDeps; keys: KeyRing; settings: TokenSettings },
  options: { client: AuthContext; detail: z.infer<typeof DatasetAccess>; job: z.infer<typeof JobMetadata>; meta: RequestMeta },
): Promise<TokenResponse> {
  const { client, detail } = options;
  if (client.via !== 'client') throw new OAuthError('unauthorized_client', 'Only service clients may use this grant.');

  // Evaluate, with the job as the principal (the engine attenuates by its sponsor).
  const evaluation = await evaluate(deps.decisions, { principalId: client.principalId, datasetId: detail.dataset, action: 'dataset:read', purpose: detail.purpose, columns: detail.columns });

  // Expiry: an allow yields a token unless not one whole second is left.
  const { decision } = evaluation;
  const expiresAt = decision.effect === 'allow' ? tokenExpiry(evaluation.at, decision.grantsExpireAt, deps.settings) : undefined;
  const token: TokenRecord | undefined = expiresAt && { jti: randomUUID(), expiresAt, job: options.job };

  // Record, token included; it resolves only once committed, and if it fails nothing below runs.
  // The key is in hand first, so no record names a token that could not be signed.
  const key = await deps.keys.activeKey();
  const recorded = await record(deps.decisions, evaluation, { callerId: client.principalId, requestId: options.meta.requestId, release: token !== undefined, token });
  if (!token) throw refusal(recorded);

  // Sign.
  return signed(deps.settings.issuer, key, client, detail, options.job, recorded, token);
}

/** access_denied for a recorded decision that yields no token: a deny (with every unmet requirement), or an allow whose grant ends within this second. */
function refusal(recorded: DecisionRecord): OAuthError {
  const why = recorded.decision.effect === 'allow' ? 'the grant it relies on ends now' : recorded.decision.reasons.join('; ');
  return new OAuthError('access_denied', `decision ${recorded.id}: ${why}`, { decisionId: recorded.id });
}

/** The RFC 9068 token of a recorded allow, signed, in its response. */
function signed(
  issuer: string,
  key: ActiveKey,
  client: AuthContext,
  detail: z.infer<typeof DatasetAccess>,
  job: z.infer<typeof JobMetadata>,
  recorded: DecisionRecord,
  token: TokenRecord,
): TokenResponse {
  const { decision, input } = recorded;
  const iat = Math.floor(recorded.at.getTime() / 1000);
  const exp = token.expiresAt.getTime() / 1000;
  const details = [{ ...detail, columns: decision.grantedColumns }];
  const sponsor = input.principal.sponsor?.id;
  // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti; `typ: at+jwt` in the header.
  const claims: Record<string, unknown> = {
    iss: issuer,
    sub: client.principalId,
    // The dataset's configured audience, from the facts the decision was made on (no second lookup).
    aud: input.dataset.audience,
    iat,
    nbf: iat,
    exp,
    jti: token.jti,
    client_id: client.clientId ?? client.principalName,
    authorization_details: details,
    purpose: detail.purpose,
    decision_id: recorded.id,
    job,
    ...(sponsor ? { sponsor } : {}),
    ...(decision.grantIds.length ? { grant_ids: decision.grantIds } : {}),
    ...(decision.obligations.length ? { obligations: decision.obligations } : {}),
    ...(decision.breakGlass ? { break_glass: true } : {}),
  };
  // iat is ours (the decision's time), which jsonwebtoken keeps when present; the claims are built for this call alone, so no copy.
  const accessToken = jwt.sign(claims, key.privateKey, { algorithm: 'ES256', keyid: key.kid, header: HEADER, mutatePayload: true });
  return { access_token: accessToken, token_type: 'Bearer', expires_in: exp - iat, authorization_details: details };
}
