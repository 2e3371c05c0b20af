/**
 * Integrity of the logs: verification of the hash chains and signed
 * checkpoints, and the public keys that sign the checkpoints.
 */
import { z } from 'zod';
import { parseAnchorValues, readAnchorFiles, type ParsedAnchors } from '../../audit/anchors.ts';
import type { RequestMeta } from '../../audit/log.ts';
import type { VerifyReport } from '../../audit/postgres/verify.ts';
import { ValidationError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const Problem = z.object({
  log: z.enum(['decision_log', 'audit_events']),
  kind: z.enum([
    'altered',
    'missing',
    'reordered',
    'truncated',
    'checkpoint_missing',
    'checkpoint_altered',
    'checkpoint_signature',
    'checkpoint_uncertified',
    'chain_missing',
    'anchor_invalid',
    'anchors_unreadable',
    'drop_unsigned',
    'drop_signature',
  ]),
  chain_id: z.string(),
  seq: z.number().describe('where it shows; for a truncation, the first missing record; for a range, its first record'),
  last_seq: z.number().nullable().describe('the last record of a range (an edit revealed by a later checkpoint, a cut end)'),
  record_id: z.string().nullable(),
  at: z.string().nullable(),
  detail: z.string(),
});

const Report = z.object({
  ok: z.boolean(),
  from: z.string(),
  to: z.string(),
  records: z.number(),
  chains: z.number(),
  checkpoints: z.number(),
  seconds: z.number(),
  records_per_second: z.number(),
  problems: z.array(Problem),
  anchors: z.object({ anchors: z.number(), malformed: z.array(z.number()), unreadable: z.string().nullable(), chains: z.number() }).nullable(),
});

const Window = {
  from: z.iso.datetime({ offset: true }).optional().describe('default: 24 hours ago'),
  to: z.iso.datetime({ offset: true }).optional().describe('default: now'),
};

function windowOf(deps: AppDeps, q: { from?: string; to?: string }): { from: Date; to: Date } {
  const to = q.to ? new Date(q.to) : deps.clock.now();
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - 86_400_000);
  if (from >= to) throw new ValidationError('`from` must be before `to`.', [{ path: 'from', message: 'not before to' }]);
  return { from, to };
}

/** Runs a verification and puts it on the record (reviewers' own checks are audited too). */
async function verifyAndRecord(deps: AppDeps, range: { from: Date; to: Date }, anchors: ParsedAnchors | undefined, actorId: string, meta: RequestMeta, source: 'configured' | 'uploaded'): Promise<VerifyReport> {
  const report = await deps.auditLog.verify(range, undefined, anchors);
  await deps.audit.record({
    type: 'audit.verified',
    outcome: report.ok ? 'success' : 'failure',
    actorId,
    meta,
    details: { from: report.from, to: report.to, records: report.records, problems: report.problems.length, first: report.problems[0] ?? null, anchors: anchors ? { source, count: anchors.anchors.length } : null },
  });
  return report;
}

/** GET and POST /v1/audit/verify, and GET /v1/audit/keys. */
export function auditIntegrityRoutes(deps: AppDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/audit/verify',
      summary: 'Recompute every log chain between two times, check the signed checkpoints and, when an anchor file is configured, compare with its anchors; reports the first problem of each chain',
      tag: 'audit',
      auth: { kind: 'permission', permission: 'access:review' },
      query: z.strictObject(Window),
      responses: { 200: { description: 'The verification report (`ok: false` lists problems)', schema: Report } },
      handler: async ({ query, auth, meta }) => {
        const range = windowOf(deps, query);
        const anchors = deps.auditLog.anchorFile ? await readAnchorFiles([deps.auditLog.anchorFile], range) : undefined;
        return { body: await verifyAndRecord(deps, range, anchors, auth!.principalId, meta, 'configured') };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/audit/verify',
      summary: 'Verify as GET does, against an uploaded anchor set (the lines of an anchor file, as a JSON array) instead of the configured file',
      tag: 'audit',
      auth: { kind: 'permission', permission: 'access:review' },
      body: z.strictObject({ ...Window, anchors: z.array(z.unknown()).min(1).max(100_000).describe('anchors, e.g. `jq -s "{anchors: .}" anchors.jsonl`') }),
      responses: { 200: { description: 'The verification report (`ok: false` lists problems)', schema: Report } },
      handler: async ({ body, auth, meta }) => ({ body: await verifyAndRecord(deps, windowOf(deps, body), parseAnchorValues(body.anchors), auth!.principalId, meta, 'uploaded') }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/audit/keys',
      summary: 'Public keys (JWK Set) that sign log checkpoints, every key ever used, each with its certificate by the audit root; and the trusted roots',
      tag: 'audit',
      auth: { kind: 'public' },
      responses: {
        200: {
          description: 'JWK Set; `certified` says whether a trusted root certified the key',
          schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())), roots: z.array(z.object({ public_key: z.string(), fingerprint: z.string() })) }),
        },
      },
      handler: async () => ({ body: await deps.auditLog.keys.jwks() }),
    }),
  ];
}
