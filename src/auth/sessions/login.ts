/**
 * Step one of a person's login: the password. Success yields an MFA
 * challenge, never a session.
 */
import type { RequestMeta } from '../../audit/log.ts';
import { InvalidCredentialsError } from '../../errors.ts';
import type { AuthDeps } from '../deps.ts';
import { newOpaqueToken } from '../opaqueToken.ts';
import { verifyPassword } from '../password.ts';
import { attemptKeys, attemptSucceeded, reserveAttempt } from '../throttle.ts';

/** Options of {@link login}. */
export interface LoginOptions {
  username: string;
  password: string;
  meta: RequestMeta;
}

/** The MFA challenge to answer at /v1/auth/totp or /v1/auth/webauthn/verify. */
export interface LoginChallenge {
  mfa_token: string;
  methods: ('totp' | 'webauthn' | 'recovery')[];
  expires_in: number;
}

/**
 * Verifies the password. An unknown user, a disabled one, a service
 * principal, a wrong password and a person without a second factor all fail
 * with the same error after the same argon2id work, so the caller cannot
 * tell which it was. Throttled per username (known or not) and per source.
 */
export async function login(deps: AuthDeps, options: LoginOptions): Promise<LoginChallenge> {
  const username = options.username.toLowerCase();
  const keys = attemptKeys(`pwd:${username}`, options.meta);
  const principal = await deps.catalog.findPrincipalByName(username);
  await reserveAttempt(deps, keys, options.meta, principal?.id);
  const usable = principal && principal.kind === 'user' && principal.status === 'active';
  const hash = usable ? await deps.store.getPasswordHash(principal.id) : undefined;
  const ok = await verifyPassword(hash, options.password);
  const methods = usable ? await deps.store.listFactorKinds(principal.id) : [];
  const fail = async (reason: string) => {
    await deps.audit.record({ type: 'auth.password', outcome: 'failure', subjectId: usable ? principal.id : null, meta: options.meta, details: { username, reason } });
    return new InvalidCredentialsError({ username, reason });
  };
  if (!ok || !usable) throw await fail(!usable ? 'unknown or unusable principal' : 'wrong password');
  if (!methods.includes('totp') && !methods.includes('webauthn')) throw await fail('no second factor enrolled');
  await attemptSucceeded(deps, keys);

  const now = deps.clock.now();
  const ttl = deps.settings.mfaChallengeTtlSeconds;
  const { token, hash: tokenHash } = newOpaqueToken('cmf');
  await deps.store.createMfaChallenge({ id: deps.ids(), principalId: principal.id, tokenHash, expiresAt: new Date(now.getTime() + ttl * 1000) });
  await deps.audit.record({ type: 'auth.password', outcome: 'success', subjectId: principal.id, actorId: principal.id, meta: options.meta });
  return { mfa_token: token, methods, expires_in: ttl };
}
