/**
 * Attempt throttling and lockout in PostgreSQL, per key (an account or a
 * source address): each attempt is counted before the credential is checked.
 */
import type { Sql, Tx } from '../../db/client.ts';
import type { AuthStore } from '../store.ts';

/** The store's throttle methods, over `q` (the pool, or the transaction the store is bound to). */
export function throttleStatements(q: Sql | Tx): Pick<AuthStore, 'reserveAttempt' | 'lockedFor' | 'clearAttempts' | 'refundAttempt'> {
  return {
    async reserveAttempt(key, now, limits) {
      // One statement under the row lock: concurrent attempts are counted one
      // by one, so at most `budget` of them ever reach credential checking.
      const [r] = await q`
        INSERT INTO auth_throttle AS t (key, attempts, updated_at) VALUES (${key}, 1, ${now})
        ON CONFLICT (key) DO UPDATE SET
          attempts = CASE
            WHEN t.locked_until IS NOT NULL AND t.locked_until <= ${now} THEN 1
            WHEN t.locked_until IS NULL AND t.updated_at < ${new Date(now.getTime() - limits.windowSeconds * 1000)} THEN 1
            ELSE t.attempts + 1 END,
          locked_until = CASE WHEN t.locked_until IS NOT NULL AND t.locked_until <= ${now} THEN NULL ELSE t.locked_until END,
          updated_at = ${now}
        RETURNING attempts, locked_until, lockouts`;
      const lockedUntil = r!.locked_until as Date | null;
      if (lockedUntil && lockedUntil > now) {
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000)), lockedNow: false };
      }
      if ((r!.attempts as number) <= limits.budget) return { allowed: true };
      // Budget spent: lock, each lockout twice as long as the one before.
      const lockouts = r!.lockouts as number;
      const seconds = Math.min(limits.maxLockSeconds, limits.baseLockSeconds * 2 ** Math.min(lockouts, 20));
      const until = new Date(now.getTime() + seconds * 1000);
      const [locked] = await q`
        UPDATE auth_throttle SET locked_until = ${until}, lockouts = lockouts + 1
        WHERE key = ${key} AND (locked_until IS NULL OR locked_until <= ${now})
        RETURNING locked_until`;
      const effective = (locked?.locked_until as Date | undefined) ?? until;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((effective.getTime() - now.getTime()) / 1000)), lockedNow: Boolean(locked) };
    },
    async lockedFor(key, now) {
      const [r] = await q`SELECT locked_until FROM auth_throttle WHERE key = ${key} AND locked_until > ${now}`;
      return r ? Math.max(1, Math.ceil(((r.locked_until as Date).getTime() - now.getTime()) / 1000)) : 0;
    },
    async clearAttempts(key) {
      await q`UPDATE auth_throttle SET attempts = 0, lockouts = 0, locked_until = NULL WHERE key = ${key}`;
    },
    async refundAttempt(key) {
      await q`UPDATE auth_throttle SET attempts = greatest(attempts - 1, 0) WHERE key = ${key} AND locked_until IS NULL`;
    },
  };
}
