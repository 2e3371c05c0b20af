/**
 * The client-credentials grant for training jobs (RFC 6749 §4.4) with
 * RFC 9396 authorization details of type `dataset_access`, in the order it
 * happens: parse the request (the client authenticates first), evaluate the
 * decision, compute the token's expiry, record the decision with the token's
 * jti, expiry and job, and only then sign. The record has committed before
 * the token exists, so no token is ever without its record; a record that
 * cannot be committed means no token (503). Every refusal fails closed: no
 * token. Tokens are RFC 9068 JWTs signed ES256.
 */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { DecisionRecord } from '../audit/decisionLog.ts';
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import { evaluate } from '../decisions/evaluate.ts';
import type { DecisionDeps } from '../decisions/makeDecision.ts';
import { record, type TokenRecord } from '../decisions/record.ts';
import type { ActiveKey, KeyRing } from './keyRing.ts';
import { OAuthError } from './oauthError.ts';
import { authenticateClient, parseTokenRequest, type ClientAuthenticator, type DatasetAccessDetail, type TokenRequest } from './oauthRequest.ts';
import { tokenExpiry, type TokenLifetime } from './tokenExpiry.ts';

// The OAuth renderer (http/oauthErrors.ts) imports these from here.

/** Settings of {@link issueToken}: the issuer and the lifetimes. */
export interface TokenSettings extends TokenLifetime {
  issuer: string;
}

/** Dependencies of {@link issueToken}. */
export interface IssueTokenDeps {
  clients: ClientAuthenticator;
  decisions: DecisionDeps;
  keys: Pick<KeyRing, 'activeKey'>;
  settings: TokenSettings;
  /** The authenticated client's rate limit (src/ratelimit): resolves when admitted, throws RateLimitedError (429) when not. */
  admit?: ((client: AuthContext, meta: RequestMeta) => Promise<void> | undefined) | undefined;
}

/** A token request as it arrived. */
export interface IssueTokenOptions {
  /** The Authorization header (client_secret_basic), if any. */
  authorization: string | undefined;
  /** The form body, unchecked: nothing in it is looked at before the client has authenticated. */
  form: Record<string, unknown>;
  meta: RequestMeta;
}

/** The token response (RFC 6749 §5.1 plus RFC 9396 §7). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  authorization_details: DatasetAccessDetail[];
}

/** The JOSE header of every token (RFC 9068 §2.1); `kid` comes with the key. */
const HEADER = { alg: 'ES256', typ: 'at+jwt' } as const;

/** Authenticates the client, decides, records and (on allow) signs one dataset token. */
export async function issueToken(deps: IssueTokenDeps, options: IssueTokenOptions): Promise<TokenResponse> {
  // Parse: the client first, then the fields (src/tokens/oauthRequest.ts).
  const client = await authenticateClient(deps.clients, options.authorization, options.form, options.meta);
  if (client.via !== 'client') throw new OAuthError('unauthorized_client', 'Only service clients may use this grant.');
  // Its rate limit, once it is known who is asking (no one spends another client's quota by naming it).
  const admitted = deps.admit?.(client, options.meta);
  if (admitted) await admitted;
  const request = parseTokenRequest(options.form);
  const { detail } = request;

  // Evaluate, with the job as the principal (the engine attenuates by its sponsor).
  const evaluation = await evaluate(deps.decisions, { principalId: client.principalId, datasetId: detail.dataset, action: 'dataset:read', purpose: detail.purpose, columns: detail.columns });

  // Expiry: an allow yields a token unless not one whole second is left.
  const { decision } = evaluation;
  const expiresAt = decision.effect === 'allow' ? tokenExpiry(evaluation.at, decision.grantsExpireAt, deps.settings) : undefined;
  const token: TokenRecord | undefined = expiresAt && { jti: randomUUID(), expiresAt, job: request.job };

  // Record, token included; it resolves only once committed, and if it fails nothing below runs.
  // The key is in hand first, so no record names a token that could not be signed.
  const key = await deps.keys.activeKey();
  const recorded = await record(deps.decisions, evaluation, { callerId: client.principalId, requestId: options.meta.requestId, release: token !== undefined, token, source: options.meta.ip });
  if (!token) throw refusal(recorded);

  // Sign.
  return signed(deps.settings.issuer, key, client, request, recorded, token);
}

/** access_denied for a recorded decision that yields no token: a deny (with every unmet requirement), or an allow whose grant ends within this second. */
function refusal(recorded: DecisionRecord): OAuthError {
  const why = recorded.decision.effect === 'allow' ? 'the grant it relies on ends now' : recorded.decision.reasons.join('; ');
  return new OAuthError('access_denied', `decision ${recorded.id}: ${why}`, { decisionId: recorded.id });
}

/** The RFC 9068 token of a recorded allow, signed, in its response. */
function signed(issuer: string, key: ActiveKey, client: AuthContext, request: TokenRequest, recorded: DecisionRecord, token: TokenRecord): TokenResponse {
  const { decision, input } = recorded;
  const iat = Math.floor(recorded.at.getTime() / 1000);
  const exp = token.expiresAt.getTime() / 1000;
  const details = [{ ...request.detail, columns: decision.grantedColumns }];
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
    purpose: request.detail.purpose,
    decision_id: recorded.id,
    job: request.job,
    ...(sponsor ? { sponsor } : {}),
    ...(decision.grantIds.length ? { grant_ids: decision.grantIds } : {}),
    ...(decision.obligations.length ? { obligations: decision.obligations } : {}),
    ...(decision.breakGlass ? { break_glass: true } : {}),
  };
  // iat is ours (the decision's time), which jsonwebtoken keeps when present; the claims are built for this call alone, so no copy.
  const accessToken = jwt.sign(claims, key.privateKey, { algorithm: 'ES256', keyid: key.kid, header: HEADER, mutatePayload: true });
  return { access_token: accessToken, token_type: 'Bearer', expires_in: exp - iat, authorization_details: details };
}
