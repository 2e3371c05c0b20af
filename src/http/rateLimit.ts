/**
 * The rate limits of the deciding routes (src/ratelimit, docs/rate-limits.md)
 * as the route runner applies them: the source address's limit before the
 * caller is authenticated (an unauthenticated flood is held before it costs
 * a credential check), the client's after (no one can spend another
 * client's quota by naming it), with the validated body to price a batch at
 * one token per decision. The token endpoint authenticates its client in its
 * handler, so its client limit is applied there (routes/oauth.ts).
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import type { RateLimiter } from '../ratelimit/limiter.ts';
import type { AnyRoute } from './route.ts';

/** A route's limits: each returns undefined when admitted at once, a promise when a lease was needed, or throws RateLimitedError. */
export interface RouteLimit {
  source(meta: RequestMeta): Promise<void> | undefined;
  client(auth: AuthContext, body: unknown, meta: RequestMeta): Promise<void> | undefined;
}

/** The limits of a deciding route (one that declares a `lane`), or undefined. */
export function routeLimit(route: AnyRoute, limiter: RateLimiter | undefined): RouteLimit | undefined {
  const lane = route.lane;
  if (!limiter || !lane) return undefined;
  const cost = lane === 'batch' ? (body: unknown) => (body as { requests: readonly unknown[] }).requests.length : () => 1;
  return {
    source: (meta) => limiter.admitAddress(meta.ip, lane),
    client: (auth, body, meta) => limiter.admitClient(auth, lane, cost(body), meta.ip),
  };
}
