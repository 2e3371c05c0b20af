/**
 * The client-credentials grant for training jobs (RFC 6749 §4.4) with
 * RFC 9396 authorization details of type `dataset_access`. The engine
 * decides; the decision and the token's jti, expiry and job are committed in
 * one record before the token is signed and returned, so no token exists
 * without its record. Tokens are RFC 9068 JWTs signed ES256.
 */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { PURPOSES } from '../catalog/identifiers.ts';
import { makeDecision, type DecisionDeps } from '../decisions/makeDecision.ts';
import { CustosError } from '../errors.ts';
import type { KeyRing } from './keyRing.ts';

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

/** Settings of {@link issueToken}. */
export interface TokenSettings {
  issuer: string;
  ttlSeconds: number;
  maxSeconds: number;
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

/** Decides, records and (on allow) signs one dataset token for the calling service. */
export async function issueToken(
  deps: { decisions: DecisionDeps; keys: KeyRing; settings: TokenSettings },
  options: { client: AuthContext; detail: z.infer<typeof DatasetAccess>; job: z.infer<typeof JobMetadata>; meta: RequestMeta },
): Promise<TokenResponse> {
  const { client, detail, job } = options;
  if (client.via !== 'client') throw new OAuthError('unauthorized_client', 'Only service clients may use this grant.');
  const key = await deps.keys.activeKey();
  const jti = randomUUID();
  const recorded = await makeDecision(
    deps.decisions,
    { principalId: client.principalId, datasetId: detail.dataset, action: 'dataset:read', purpose: detail.purpose, columns: detail.columns },
    {
      callerId: client.principalId,
      meta: options.meta,
      tokenFor: (decision, at) => {
        // Lifetime: the configured default, never past the cap, nor past any grant the decision relied on.
        const ceiling = Math.min(at.getTime() + deps.settings.ttlSeconds * 1000, at.getTime() + deps.settings.maxSeconds * 1000, decision.grantsExpireAt ?? Infinity);
        const expiresAt = new Date(Math.floor(ceiling / 1000) * 1000);
        // A grant ending within this second leaves no whole second to live: no token, and the record says so.
        if (Math.floor(expiresAt.getTime() / 1000) <= Math.floor(at.getTime() / 1000)) return undefined;
        return { jti, expiresAt, job: { ...job } };
      },
    },
  );
  if (recorded.effect !== 'allow') {
    throw new OAuthError('access_denied', `decision ${recorded.decisionId}: ${recorded.reasons.join('; ')}`, { decisionId: recorded.decisionId });
  }
  if (!recorded.token) throw new OAuthError('access_denied', `decision ${recorded.decisionId}: the grant it relies on ends now`);
  const iat = Math.floor(recorded.at.getTime() / 1000);
  const exp = Math.floor(recorded.token.expiresAt.getTime() / 1000);
  const granted = { ...detail, columns: recorded.grantedColumns };
  const sponsor = recorded.input.principal.sponsor?.id;
  // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti; `typ: at+jwt` in the header.
  const claims: Record<string, unknown> = {
    iss: deps.settings.issuer,
    sub: client.principalId,
    // The dataset's configured audience, from the facts the decision was made on (no second lookup).
    aud: recorded.input.dataset.audience,
    iat,
    nbf: iat,
    exp,
    jti,
    client_id: client.clientId ?? client.principalName,
    authorization_details: [granted],
    purpose: detail.purpose,
    decision_id: recorded.decisionId,
    job,
    ...(sponsor ? { sponsor } : {}),
    ...(recorded.grantIds.length ? { grant_ids: recorded.grantIds } : {}),
    ...(recorded.obligations.length ? { obligations: recorded.obligations } : {}),
    ...(recorded.breakGlass ? { break_glass: true } : {}),
  };
  // iat is ours (the decision's time), which jsonwebtoken keeps when present.
  const token = jwt.sign(claims, key.privateKey, { algorithm: 'ES256', keyid: key.kid, header: { alg: 'ES256', typ: 'at+jwt' } });
  return { access_token: token, token_type: 'Bearer', expires_in: exp - iat, authorization_details: [granted] };
}
