/**
 * When a token issued on an allow expires: the configured lifetime, never
 * past the cap, nor past the earliest end of any grant the decision relied
 * on; rounded down to a whole second (JWT `exp` is in seconds, RFC 7519
 * §4.1.4), so a token never outlives what it rests on. Pure: the decision's
 * time is the only "now".
 */

/** Token lifetimes, in seconds: the default and the cap. */
export interface TokenLifetime {
  ttlSeconds: number;
  maxSeconds: number;
}

/**
 * The expiry of a token issued at `at` on a decision whose grants end at
 * `grantsExpireAt` (ms; null: none relied on), or undefined when not one
 * whole second is left (a grant ending within this second): then no token.
 */
export function tokenExpiry(at: Date, grantsExpireAt: number | null, lifetime: TokenLifetime): Date | undefined {
  const now = at.getTime();
  const ceiling = Math.min(now + lifetime.ttlSeconds * 1000, now + lifetime.maxSeconds * 1000, grantsExpireAt ?? Infinity);
  const exp = Math.floor(ceiling / 1000);
  // An exp equal to the iat would be a token dead on arrival: none is issued.
  return exp > Math.floor(now / 1000) ? new Date(exp * 1000) : undefined;
}
