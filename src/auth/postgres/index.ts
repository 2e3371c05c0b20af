/**
 * PostgreSQL implementation of {@link AuthStore}, composed from one file per
 * aggregate (passwords, enrollments, TOTP, WebAuthn, recovery codes, MFA
 * challenges, sessions, throttling) and secrets.ts, the statements behind
 * "one live value per secret".
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore } from '../store.ts';
import { enrollmentStatements } from './enrollments.ts';
import { factorStatements } from './factors.ts';
import { mfaChallengeStatements } from './mfaChallenges.ts';
import { passwordStatements } from './passwords.ts';
import { recoveryCodeStatements } from './recoveryCodes.ts';
import { secretStatements } from './secrets.ts';
import { sessionStatements } from './sessions.ts';
import { throttleStatements } from './throttle.ts';
import { totpStatements } from './totp.ts';
import { webauthnStatements } from './webauthn.ts';
import { transaction } from '../../db/transaction.ts';

/** Service client credentials: a store of their own (auth/clients/clientCredentials.ts declares it). */
export { createClientCredentialStore } from './clientCredentials.ts';

/** Options of {@link createAuthStore}. */
export interface AuthStoreOptions {
  /** Whether a webhook is configured: notifications are queued only then. */
  webhook?: boolean;
}

/** Runs a multi-statement change in its own transaction, or in the one the store is bound to. */
export type Atomic = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

/**
 * Builds the auth store over a postgres.js client; with `bound`, every
 * statement runs in that transaction instead.
 */
export function createAuthStore(sql: Sql, options: AuthStoreOptions = {}, bound?: Tx): AuthStore {
  const q: Sql | Tx = bound ?? sql;
  // A multi-statement change: its own transaction, or the one the store is bound to.
  const atomic: Atomic = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => (bound ? fn(bound) : (transaction(sql, fn) as Promise<T>));
  const store: AuthStore = {
    ...secretStatements(q, options),
    transaction: (fn) => atomic((tx) => fn(bound ? store : createAuthStore(sql, options, tx), tx)),
    within: (tx) => createAuthStore(sql, options, tx),
    ...passwordStatements(q),
    ...enrollmentStatements(q),
    ...totpStatements(q, atomic),
    ...factorStatements(q, atomic),
    ...webauthnStatements(q),
    ...recoveryCodeStatements(q, atomic),
    ...mfaChallengeStatements(q),
    ...sessionStatements(q),
    ...throttleStatements(q),
    // Housekeeping across aggregates: expired challenges and tokens, idle throttle keys.
    async purgeExpired(now, throttleWindowSeconds) {
      const hourAgo = new Date(now.getTime() - 3_600_000);
      const windowAgo = new Date(now.getTime() - throttleWindowSeconds * 1000);
      const counts = await Promise.all([
        q`DELETE FROM webauthn_challenges WHERE expires_at < ${hourAgo}`,
        q`DELETE FROM mfa_challenges WHERE expires_at < ${hourAgo}`,
        q`DELETE FROM session_tokens WHERE expires_at < ${hourAgo}`,
        q`DELETE FROM auth_throttle WHERE updated_at < ${windowAgo} AND (locked_until IS NULL OR locked_until < ${now})`,
      ]);
      return counts.reduce((n, r) => n + r.count, 0);
    },
  };
  return store;
}
