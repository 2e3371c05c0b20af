/**
 * GET /metrics: Prometheus's text exposition format, for the operators'
 * scraper, not for the public. Served to a source address on the allow list
 * (CUSTOS_METRICS_ALLOW; the address audit events record, so it honours
 * CUSTOS_TRUST_PROXY and a forged X-Forwarded-For from anyone else counts for
 * nothing), or to a client that authenticates with client credentials (HTTP
 * Basic, as enforcement points do) of a principal holding `metrics:read`
 * (the shipped role `metrics-reader`). Anyone else is refused as every
 * protected route refuses: 401 without valid credentials, 403 with
 * credentials that lack the permission (docs/metrics.md).
 */
import { authenticateBasicHeader, isBasic } from '../../auth/clients/clientCredentials.ts';
import { ForbiddenError, UnauthenticatedError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

/** The Prometheus text exposition format, version 0.0.4. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** GET /metrics. */
export function metricsRoutes(deps: AppDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of the whole server (every worker): to allowed source addresses, or clients holding metrics:read (HTTP Basic)',
      tag: 'operations',
      // Checked below: an allowed source address needs no credentials, which no route auth kind expresses.
      auth: { kind: 'public' },
      responses: {
        200: { description: 'The metrics, in the Prometheus text exposition format 0.0.4 (docs/metrics.md)' },
        401: { description: 'Not from an allowed address, and no valid client credentials (`unauthenticated`)' },
        403: { description: 'Valid client credentials of a principal without `metrics:read` (`forbidden`)' },
        503: { description: 'A worker could not gather the other workers\' metrics (`unavailable`)' },
      },
      handler: async ({ headers, meta }) => {
        if (!deps.metrics.sourceAllowed(meta.ip)) {
          const header = headers.authorization;
          if (!isBasic(header)) throw new UnauthenticatedError();
          const caller = await authenticateBasicHeader(deps.auth, header, meta);
          if (!caller.permissions.has('metrics:read')) throw new ForbiddenError('You are not allowed to do this.', { principalId: caller.principalId, missing: 'metrics:read' });
        }
        const text = await deps.metrics.scrape();
        return {
          headers: { 'Cache-Control': 'no-store' },
          stream: {
            contentType: CONTENT_TYPE,
            // One write of text already in hand (a scrape is tens of kilobytes); nothing to send to a client that left.
            write: async (sink) => {
              if (!sink.destroyed) sink.write(text);
            },
          },
        };
      },
    }),
  ];
}
