/**
 * Liveness and readiness.
 */
import { z } from 'zod';
import { UnavailableError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import { withTimeout } from '../middleware.ts';
import { defineRoute } from '../route.ts';

const Status = z.object({ status: z.enum(['ok', 'ready']) });

/** /healthz (the process is up) and /readyz (it can serve: the database answers). */
export function healthRoutes(deps: AppDeps) {
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process is running',
      tag: 'operations',
      auth: { kind: 'public' },
      responses: { 200: { description: 'Alive', schema: Status } },
      handler: async () => ({ body: { status: 'ok' } }),
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: the database is reachable',
      tag: 'operations',
      auth: { kind: 'public' },
      responses: { 200: { description: 'Ready', schema: Status }, 503: { description: 'Not ready' } },
      handler: async () => {
        try {
          await withTimeout(deps.checkDatabase(), 2000);
        } catch (err) {
          throw new UnavailableError(err);
        }
        return { body: { status: 'ready' } };
      },
    }),
  ];
}
