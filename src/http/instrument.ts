/**
 * The deciding routes (those declaring a `lane`) measured: the handler's
 * time, refusals included, goes to custos_decision_duration_seconds; the
 * token endpoint's outcome to the tokens issued or refused (by the OAuth
 * error code the caller is answered with, as the one error mapper renders
 * it). The meter is built once per route, when the app is built; the runner
 * calls it after the handler, so a request pays two clock reads and
 * prom-client's update, and allocates nothing of its own.
 */
import type { Metrics } from '../metrics/metrics.ts';
import { toFailure } from './errorMapper.ts';
import { oauthErrorCode } from './oauthErrors.ts';
import type { AnyRoute } from './route.ts';

/** Told when a measured handler has ended: when it started (performance.now()), and what it threw, if anything. */
export type Meter = (start: number, err: unknown) => void;

/** The meter of a route, or undefined when it declares no lane. */
export function laneMeter(route: AnyRoute, metrics: Metrics, unavailable: (err: unknown) => boolean): Meter | undefined {
  const lane = route.lane;
  if (!lane) return undefined;
  if (lane !== 'token') return (start) => metrics.decisionTime(lane, (performance.now() - start) / 1000);
  return (start, err) => {
    metrics.decisionTime(lane, (performance.now() - start) / 1000);
    if (err === undefined) metrics.tokenIssued();
    else metrics.tokenRefused(oauthErrorCode(toFailure(err, unavailable)));
  };
}
