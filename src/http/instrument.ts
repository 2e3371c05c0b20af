/**
 * The deciding routes (those declaring a `lane`) measured: the handler's
 * time, refusals included, goes to custos_decision_duration_seconds; the
 * token endpoint's outcome to the tokens issued or refused (by the OAuth
 * error code the caller is answered with, as the one error mapper renders
 * it). Wrapped once when the app is built; per request it adds a clock read
 * before and after and prom-client's update, nothing else.
 */
import type { Metrics } from '../metrics/metrics.ts';
import { toFailure } from './errorMapper.ts';
import { oauthErrorCode } from './oauthErrors.ts';
import type { AnyRoute } from './route.ts';

/** The route with its handler measured, or the route itself when it declares no lane. */
export function instrumented(route: AnyRoute, metrics: Metrics, unavailable: (err: unknown) => boolean): AnyRoute {
  const lane = route.lane;
  if (!lane) return route;
  const handler = route.handler;
  if (lane !== 'token') {
    return {
      ...route,
      handler: async (ctx) => {
        const start = performance.now();
        try {
          return await handler(ctx);
        } finally {
          metrics.decisionTime(lane, (performance.now() - start) / 1000);
        }
      },
    };
  }
  return {
    ...route,
    handler: async (ctx) => {
      const start = performance.now();
      try {
        const result = await handler(ctx);
        metrics.tokenIssued();
        return result;
      } catch (err) {
        metrics.tokenRefused(oauthErrorCode(toFailure(err, unavailable)));
        throw err;
      } finally {
        metrics.decisionTime(lane, (performance.now() - start) / 1000);
      }
    },
  };
}
