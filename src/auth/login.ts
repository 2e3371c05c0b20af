/**
 * Step one of a person's login: the password. Success yields an MFA
 * challenge, never a session.
 */
import { InvalidCredentialsError } from '../errors.ts';
import type { AuthDeps } from './deps.ts';
import { newOpaqueToken } from './opaqueToken.ts';
import { verifyPassword } from './password.ts';

/** Options of {@link login}. */
export interface LoginOptions {
  username: string;
  password: string;
}

/** The MFA challenge to answer at /v1/auth/totp. */
export interface LoginChallenge {
  mfa_token: string;
  methods: ['totp'];
  expires_in: number;
}

/**
 * Verifies the password. An unknown user, a disabled one, a service
 * principal, a wrong password and a person without a second factor all fail
 * with the same error after the same argon2id work, so the caller cannot
 * tell which it was.
 */
export async function login(deps: AuthDeps, options: LoginOptions): Promise<LoginChallenge> {
  const principal = await deps.catalog.findPrincipalByName(options.username.toLowerCase());
  const usable = principal && principal.kind === 'user' && principal.status === 'active';
  const hash = usable ? await deps.store.getPasswordHash(principal.id) : undefined;
  const ok = await verifyPassword(hash, options.password);
  if (!ok || !usable) throw new InvalidCredentialsError({ username: options.username, reason: !usable ? 'unknown or unusable principal' : 'wrong password' });
  const factor = await deps.store.getConfirmedTotp(principal.id);
  if (!factor) throw new InvalidCredentialsError({ username: options.username, reason: 'no second factor enrolled' });

  const now = deps.clock.now();
  const ttl = deps.settings.mfaChallengeTtlSeconds;
  const { token, hash: tokenHash } = newOpaqueToken('cmf');
  await deps.store.createMfaChallenge({ id: deps.ids(), principalId: principal.id, tokenHash, expiresAt: new Date(now.getTime() + ttl * 1000) });
  return { mfa_token: token, methods: ['totp'], expires_in: ttl };
}
