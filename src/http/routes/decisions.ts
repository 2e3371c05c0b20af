/**
 * The decision API for enforcement points (and administrators asking
 * "what if"): one decision, or a batch, each durably recorded first. A
 * decision asked by an enforcement point is a release of data; one asked by
 * an administrator's session is a what-if, recorded as such and left out of
 * the accounting of disclosures.
 */
import { z } from 'zod';
import type { DecisionRecord } from '../../audit/decisionLog.ts';
import type { RequestMeta } from '../../audit/log.ts';
import type { AuthContext } from '../../auth/context.ts';
import { PURPOSES } from '../../catalog/identifiers.ts';
import type { DecisionRequest } from '../../decisions/evaluate.ts';
import { makeDecision, makeDecisions } from '../../decisions/makeDecision.ts';
import type { Attachments } from '../../decisions/record.ts';
import { isWhatIf } from '../../decisions/whatIf.ts';
import { ACTIONS } from '../../policy/document.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, storableText, type AnyRoute } from '../route.ts';

const DecisionRequestBody = z.strictObject({
  principal_id: z.uuid().describe('the principal whose access is decided'),
  dataset: z.string().min(1).max(128),
  action: z.enum(ACTIONS).default('dataset:read'),
  purpose: z.enum(PURPOSES),
  columns: z
    .union([z.literal('*'), z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a column identifier')).min(1).max(2000)])
    .describe('columns needed; "*" only on de-identified data'),
  context: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/),
      // No NUL and no lone surrogate: neither can be stored in the decision log.
      z.union([storableText(500), z.number().finite(), z.boolean()]),
    )
    .refine((r) => Object.keys(r).length <= 50, 'at most 50 entries')
    .optional(),
});

const DecisionBody = z.object({
  decision_id: z.string(),
  effect: z.enum(['allow', 'deny']),
  rules: z.array(z.string()).describe('ids of the rules that decided'),
  reasons: z.array(z.string()).describe('for a deny: every unmet requirement'),
  granted_columns: z.array(z.string()),
  denied_columns: z.array(z.string()),
  obligations: z.array(z.record(z.string(), z.unknown())),
  grant_ids: z.array(z.string()),
  break_glass: z.boolean(),
  policy_version: z.string(),
  decided_at: z.string(),
  release: z.boolean().describe('true: asked to release data (an enforcement point); false: an administrator’s what-if, no disclosure'),
});

/** The answer shape of a committed decision record. */
export function decisionBody(r: DecisionRecord): z.infer<typeof DecisionBody> {
  const d = r.decision;
  return {
    decision_id: r.id,
    effect: d.effect,
    rules: d.rules,
    reasons: d.reasons,
    granted_columns: d.grantedColumns,
    denied_columns: d.deniedColumns,
    obligations: d.obligations,
    grant_ids: d.grantIds,
    break_glass: d.breakGlass,
    policy_version: d.policyVersion,
    decided_at: r.at.toISOString(),
    release: r.release,
  };
}

type DecisionRequestBody = z.infer<typeof DecisionRequestBody>;

/** The service's phrasing of a request body. */
function requestOf(body: DecisionRequestBody): DecisionRequest {
  return { principalId: body.principal_id, datasetId: body.dataset, action: body.action, purpose: body.purpose, columns: body.columns, context: body.context };
}

/** What is recorded with the caller's decisions: an enforcement point's release, or an administrator's what-if (no release). */
function attachmentsOf(auth: AuthContext, meta: RequestMeta): Attachments {
  return { callerId: auth.principalId, requestId: meta.requestId, release: !isWhatIf(auth), source: meta.ip };
}

const pdp = { kind: 'permission', permission: 'pdp:check', clients: true } as const;

/** POST /v1/decisions and /v1/decisions/batch. */
export function decisionRoutes(deps: AppDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/v1/decisions',
      summary: 'Decide one request (recorded before the answer is sent)',
      tag: 'decisions',
      auth: pdp,
      hot: true,
      lane: 'decision',
      changesFacts: false,
      body: DecisionRequestBody,
      responses: { 200: { description: 'The decision (allow or deny)', schema: DecisionBody }, 503: { description: 'The record could not be committed: no answer' } },
      handler: async ({ body, auth, meta }) => ({ body: decisionBody(await makeDecision(deps.decisions, requestOf(body), attachmentsOf(auth!, meta))) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/decisions/batch',
      summary: 'Decide up to 100 requests at once (each recorded)',
      tag: 'decisions',
      auth: pdp,
      hot: true,
      lane: 'batch',
      changesFacts: false,
      body: z.strictObject({ requests: z.array(DecisionRequestBody).min(1).max(100) }),
      responses: { 200: { description: 'Decisions, in request order', schema: z.object({ decisions: z.array(DecisionBody) }) } },
      handler: async ({ body, auth, meta }) => {
        const decisions = await makeDecisions(deps.decisions, body.requests.map(requestOf), attachmentsOf(auth!, meta));
        return { body: { decisions: decisions.map(decisionBody) } };
      },
    }),
  ];
}
