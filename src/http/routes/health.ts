/**
 * Liveness and readiness.
 */
import { z } from 'zod';
import { UnavailableError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import { withTimeout } from '../middleware.ts';
import { defineRoute } from '../route.ts';

const Status = z.object({ status: z.enum(['ok', 'ready']) });
const Witness = z.object({
  name: z.string(),
  ok: z.boolean(),
  pending: z.number(),
  dropped: z.number(),
  failures: z.number(),
  last_error: z.string().nullable(),
  failing_since: z.string().nullable(),
  last_written_at: z.string().nullable(),
});
const Readiness = Status.extend({
  anchors: z.enum(['ok', 'failing']).describe('whether every anchor witness takes anchors; a failing one does not stop serving, and is reported here, in the log and as an audit event'),
  witnesses: z.array(Witness),
});

/** /healthz (the process is up) and /readyz (it can serve: the database answers; and whether anchors reach their witnesses). */
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
      summary: 'Readiness: the database is reachable; with the state of the anchor witnesses',
      tag: 'operations',
      auth: { kind: 'public' },
      responses: { 200: { description: 'Ready', schema: Readiness }, 503: { description: 'Not ready' } },
      handler: async () => {
        try {
          await withTimeout(deps.checkDatabase(), 2000);
        } catch (err) {
          throw new UnavailableError(err);
        }
        const witnesses = deps.auditLog.witnesses();
        return { body: { status: 'ready' as const, anchors: witnesses.every((w) => w.ok) ? ('ok' as const) : ('failing' as const), witnesses } };
      },
    }),
  ];
}
