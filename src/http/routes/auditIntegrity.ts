/**
 * Integrity of the logs: verification of the hash chains and signed
 * checkpoints, and the public keys that sign the checkpoints.
 */
import { z } from 'zod';
import { ValidationError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const Problem = z.object({
  log: z.enum(['decision_log', 'audit_events']),
  kind: z.enum(['altered', 'missing', 'reordered', 'truncated', 'checkpoint_missing', 'checkpoint_altered', 'checkpoint_signature']),
  chain_id: z.string(),
  seq: z.number(),
  record_id: z.string().nullable(),
  at: z.string().nullable(),
  detail: z.string(),
});

/** GET /v1/audit/verify and GET /v1/audit/keys. */
export function auditIntegrityRoutes(deps: AppDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/audit/verify',
      summary: 'Recompute every log chain between two times and check the signed checkpoints; reports the first problem of each chain',
      tag: 'audit',
      auth: { kind: 'permission', permission: 'access:review' },
      query: z.strictObject({
        from: z.iso.datetime({ offset: true }).optional().describe('default: 24 hours ago'),
        to: z.iso.datetime({ offset: true }).optional().describe('default: now'),
      }),
      responses: {
        200: {
          description: 'The verification report (`ok: false` lists problems)',
          schema: z.object({
            ok: z.boolean(),
            from: z.string(),
            to: z.string(),
            records: z.number(),
            chains: z.number(),
            checkpoints: z.number(),
            seconds: z.number(),
            records_per_second: z.number(),
            problems: z.array(Problem),
          }),
        },
      },
      handler: async ({ query, auth, meta }) => {
        const to = query.to ? new Date(query.to) : deps.clock.now();
        const from = query.from ? new Date(query.from) : new Date(to.getTime() - 86_400_000);
        if (from >= to) throw new ValidationError('`from` must be before `to`.', [{ path: 'query.from', message: 'not before to' }]);
        const report = await deps.auditLog.verify({ from, to });
        // Reviewers' own checks are on the record too.
        await deps.audit.record({
          type: 'audit.verified',
          outcome: report.ok ? 'success' : 'failure',
          actorId: auth!.principalId,
          meta,
          details: { from: report.from, to: report.to, records: report.records, problems: report.problems.length, first: report.problems[0] ?? null },
        });
        return { body: report };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/audit/keys',
      summary: 'Public keys (JWK Set) that sign log checkpoints, including every key ever used',
      tag: 'audit',
      auth: { kind: 'public' },
      responses: { 200: { description: 'JWK Set', schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) } },
      handler: async () => ({ body: await deps.auditLog.keys.jwks() }),
    }),
  ];
}
