/**
 * Throttling and lockout for password, TOTP, WebAuthn and recovery attempts,
 * per account and per source address. An attempt is counted before the
 * credential is checked, in one locked statement, so parallel guesses cannot
 * slip past the budget; lockouts double each time.
 */
import type { RequestMeta } from '../audit/log.ts';
import { RateLimitedError } from '../errors.ts';
import type { AuthDeps } from './deps.ts';

/** The throttle keys of one attempt. */
export interface AttemptKeys {
  /** e.g. `pwd:alice` or `mfa:<principal id>`; unknown names lock like known ones. */
  account: string;
  source: string | undefined;
}

/** Keys for an attempt by this account from this request. */
export function attemptKeys(account: string, meta: RequestMeta): AttemptKeys {
  return { account, source: meta.ip ? `src:${meta.ip}` : undefined };
}

/**
 * Records one refused (throttled) attempt: every 429 leaves an event, so a
 * reviewer can count what a lockout held back (HIPAA §164.312(b)), not only
 * that it started. `auth.lockout` additionally marks the attempt that locked.
 */
async function auditThrottled(deps: AuthDeps, o: { keys: AttemptKeys; kind: 'account' | 'source'; seconds: number; meta: RequestMeta; principalId: string | undefined }): Promise<void> {
  await deps.audit.record({
    type: 'auth.throttled',
    outcome: 'failure',
    subjectId: o.principalId ?? null,
    meta: o.meta,
    details: { key_kind: o.kind, key: o.kind === 'account' ? o.keys.account : o.keys.source, account: o.keys.account, seconds: o.seconds },
  });
}

/** Reserves an attempt on both keys or throws RateLimitedError (429 + Retry-After), audited either way. */
export async function reserveAttempt(deps: AuthDeps, keys: AttemptKeys, meta: RequestMeta, principalId?: string): Promise<void> {
  const now = deps.clock.now();
  // A source already locked out must not keep advancing (and locking) the accounts it tries:
  // look at it first without counting. Then count against the account, then the source.
  if (keys.source) {
    const wait = await deps.store.lockedFor(keys.source, now);
    if (wait > 0) {
      await auditThrottled(deps, { keys, kind: 'source', seconds: wait, meta, principalId });
      throw new RateLimitedError(wait);
    }
  }
  const checks: [string, 'account' | 'source'][] = [[keys.account, 'account']];
  if (keys.source) checks.push([keys.source, 'source']);
  for (const [key, kind] of checks) {
    const r = await deps.store.reserveAttempt(key, now, deps.settings.throttle[kind]);
    if (!r.allowed) {
      if (r.lockedNow) {
        await deps.audit.record({
          type: 'auth.lockout',
          outcome: 'failure',
          // A source-address lock is about the address, not the person being tried.
          subjectId: kind === 'account' ? (principalId ?? null) : null,
          meta,
          details: { key_kind: kind, key, seconds: r.retryAfterSeconds },
        });
      }
      await auditThrottled(deps, { keys, kind, seconds: r.retryAfterSeconds, meta, principalId });
      throw new RateLimitedError(r.retryAfterSeconds);
    }
  }
}

/** After a success: the account's count starts over; the source gets its attempt back. */
export async function attemptSucceeded(deps: AuthDeps, keys: AttemptKeys): Promise<void> {
  await deps.store.clearAttempts(keys.account);
  if (keys.source) await deps.store.refundAttempt(keys.source);
}
