/**
 * The security reviewer's API (permission `audit:read`): decision log and
 * audit event queries with cursor pagination, streamed NDJSON/CSV exports,
 * the accounting of disclosures and the access review. Every use is itself
 * an audit event (`audit.query`, `audit.export`, `audit.report`): who looked
 * at what. An export's event is committed before its first row is sent.
 */
import { z } from 'zod';
import { CONTENT_TYPES, writeExport, type ExportFormat } from '../../audit/export.ts';
import type { RequestMeta } from '../../audit/log.ts';
import { auditEvents, AuditEventFilter, decisionLog, DecisionFilter, filtersUsed, PageParams, type LogSource } from '../../audit/postgres/query.ts';
import { AccessReviewParams, DISCLOSURE_COLUMNS, disclosurePeriod, DisclosureParams } from '../../audit/postgres/reports.ts';
import type { AuthContext } from '../../auth/context.ts';
import { NotFoundError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute, type RouteResult } from '../route.ts';

const auth = { kind: 'permission', permission: 'audit:read' } as const;
const Format = { format: z.enum(['ndjson', 'csv']).default('ndjson') };
const Json = z.unknown();

const DecisionItem = z.object({
  id: z.string(),
  at: z.string(),
  request_id: z.string().nullable(),
  caller_id: z.string().nullable(),
  principal_id: z.string(),
  sponsor_id: z.string().nullable(),
  dataset_id: z.string(),
  project_id: z.string().nullable(),
  action: z.string(),
  purpose: z.string(),
  effect: z.enum(['allow', 'deny']),
  rules: z.array(z.string()),
  reasons: z.array(z.string()),
  granted_columns: z.array(z.string()),
  denied_columns: z.array(z.string()),
  obligations: Json,
  grant_ids: z.array(z.string()),
  break_glass: z.boolean(),
  policy_version: z.string(),
  latency_us: z.number(),
  input: Json,
  token_jti: z.string().nullable(),
  token_expires_at: z.string().nullable(),
  job: Json,
});
const AuditEventItem = z.object({
  id: z.string(),
  at: z.string(),
  type: z.string(),
  outcome: z.enum(['success', 'failure', 'info']),
  actor_id: z.string().nullable(),
  subject_id: z.string().nullable(),
  source_ip: z.string().nullable(),
  request_id: z.string().nullable(),
  details: Json,
});
const pageOf = (item: z.ZodType) => z.object({ items: z.array(item), next_cursor: z.string().nullable() });
const DisclosureItem = z.object(Object.fromEntries(DISCLOSURE_COLUMNS.map((c) => [c, Json])));
const AccessEntry = z.object({
  principal_id: z.string(),
  principal_name: z.string(),
  principal_kind: z.string(),
  basis: z.enum(['standing', 'grant', 'break-glass']),
  purposes: z.array(z.string()),
  columns: z.array(z.string()),
  rules: z.array(z.string()),
  grant_ids: z.array(z.string()),
  expires_at: z.string().nullable(),
});

/** Columns of the access review as CSV: the dataset, then one principal's basis of access. */
export const ACCESS_REVIEW_COLUMNS = [
  'dataset_id', 'project_id', 'classification', 'principal_id', 'principal_name', 'principal_kind', 'basis', 'purposes', 'columns', 'rules',
  'grant_ids', 'expires_at', 'policy_version', 'generated_at',
] as const;

async function* oneBatch(rows: Record<string, unknown>[]): AsyncGenerator<Record<string, unknown>[]> {
  yield rows;
}

/**
 * A streamed export: its audit event first (fail closed: no row leaves
 * before the export itself is on record), then the batches (the route runner
 * sends the headers, then lets writeExport fill the response with
 * backpressure), then the completion event, saying whether the client took
 * every row.
 */
async function exportAnswer(
  deps: AppDeps,
  o: { auth: AuthContext; meta: RequestMeta; format: ExportFormat; name: string; columns: readonly string[]; batches: AsyncIterable<Record<string, unknown>[]>; details: Record<string, unknown> },
): Promise<RouteResult> {
  await deps.audit.record({ type: 'audit.export', outcome: 'info', actorId: o.auth.principalId, meta: o.meta, details: { ...o.details, format: o.format } });
  const stamp = deps.clock.now().toISOString().replace(/[:.]/g, '-');
  return {
    stream: {
      contentType: CONTENT_TYPES[o.format],
      filename: `${o.name}-${stamp}.${o.format}`,
      write: async (sink) => {
        const r = await writeExport({ format: o.format, columns: o.columns, batches: o.batches, out: sink });
        await deps.audit
          .record({ type: 'audit.export.completed', outcome: r.complete ? 'success' : 'failure', actorId: o.auth.principalId, meta: o.meta, details: { ...o.details, format: o.format, rows: r.rows, complete: r.complete } })
          .catch((err: unknown) => deps.log.error({ err, requestId: o.meta.requestId }, 'could not record the end of an export'));
      },
    },
  };
}

/** Query and export routes of one log. */
function logRoutes<F extends { order: 'asc' | 'desc' }>(deps: AppDeps, o: { path: string; what: string; source: LogSource<F>; filter: z.ZodObject; item: z.ZodType }): AnyRoute[] {
  const reader = deps.auditRead;
  return [
    defineRoute({
      method: 'get',
      path: o.path,
      summary: `Query ${o.what} (filters, time range, cursor pagination by time then id)`,
      tag: 'audit',
      auth,
      query: o.filter.extend(PageParams) as unknown as z.ZodType<F & { limit: number; cursor?: string }>,
      responses: { 200: { description: `A page of ${o.what}; pass next_cursor back as cursor`, schema: pageOf(o.item) } },
      handler: async ({ query, auth: who, meta }) => {
        const { limit, cursor, ...filter } = query;
        const page = await reader.page(o.source, { filter: filter as unknown as F, limit, cursor });
        await deps.audit.record({
          type: 'audit.query',
          outcome: 'success',
          actorId: who!.principalId,
          meta,
          details: { log: o.source.name, filters: filtersUsed(filter), limit, page: cursor ? 'next' : 'first', rows: page.items.length },
        });
        return { body: page };
      },
    }),
    defineRoute({
      method: 'get',
      path: `${o.path}/export`,
      summary: `Export ${o.what} as NDJSON or CSV (streamed; same filters)`,
      tag: 'audit',
      auth,
      query: o.filter.extend(Format) as unknown as z.ZodType<F & { format: ExportFormat }>,
      responses: { 200: { description: 'application/x-ndjson (one JSON object per line) or text/csv (RFC 4180, header row)' } },
      handler: async ({ query, auth: who, meta }) => {
        const { format, ...filter } = query;
        return exportAnswer(deps, {
          auth: who!,
          meta,
          format,
          name: o.source.name.replace('_', '-'),
          columns: o.source.columns,
          batches: reader.stream(o.source, filter as unknown as F),
          details: { log: o.source.name, filters: filtersUsed(filter) },
        });
      },
    }),
  ];
}

/** Routes under /v1/decision-logs, /v1/audit-events and /v1/reports. */
export function auditRoutes(deps: AppDeps): AnyRoute[] {
  const r = deps.auditRead;
  return [
    ...logRoutes(deps, { path: '/v1/decision-logs', what: 'decision records', source: decisionLog, filter: DecisionFilter, item: DecisionItem }),
    // After /v1/decision-logs/export, which would otherwise be taken for an id.
    defineRoute({
      method: 'get',
      path: '/v1/decision-logs/:id',
      summary: 'One decision record: its rules, reasons, columns granted and refused, grants, break-glass, policy version, token and job',
      tag: 'audit',
      auth,
      params: z.strictObject({ id: z.uuid() }),
      responses: { 200: { description: 'The decision record', schema: DecisionItem }, 404: { description: 'No such decision' } },
      handler: async ({ params, auth: who, meta }) => {
        const page = await r.page(decisionLog, { filter: { decision: params.id, order: 'desc' }, limit: 1 });
        // Recorded like any other read of the log, found or not (who looked for what).
        await deps.audit.record({
          type: 'audit.query',
          outcome: 'success',
          actorId: who!.principalId,
          meta,
          details: { log: 'decision_log', filters: { decision: params.id }, limit: 1, page: 'first', rows: page.items.length },
        });
        if (!page.items[0]) throw new NotFoundError(`Decision ${params.id}`);
        return { body: page.items[0] };
      },
    }),
    ...logRoutes(deps, { path: '/v1/audit-events', what: 'audit events', source: auditEvents, filter: AuditEventFilter, item: AuditEventItem }),
    defineRoute({
      method: 'get',
      path: '/v1/reports/disclosures',
      summary: 'Accounting of disclosures (§164.528): PHI and limited-data reads of one dataset in a period',
      tag: 'audit',
      auth,
      query: DisclosureParams,
      responses: {
        200: {
          description: 'JSON (at most 10,000 rows; `truncated` says when there were more) or, with format=csv, every row as CSV',
          schema: z.object({ dataset: z.string(), from: z.string(), to: z.string(), items: z.array(DisclosureItem), truncated: z.boolean() }),
        },
      },
      handler: async ({ query, auth: who, meta }) => {
        const period = disclosurePeriod(query, deps.clock.now());
        const details = { report: 'disclosures', dataset: query.dataset, from: period.from.toISOString(), to: period.to.toISOString() };
        if (query.format === 'csv') {
          return exportAnswer(deps, { auth: who!, meta, format: 'csv', name: `disclosures-${query.dataset.replace(/[^A-Za-z0-9._-]/g, '_')}`, columns: DISCLOSURE_COLUMNS, batches: r.streamDisclosures(query), details });
        }
        const report = await r.disclosures(query);
        await deps.audit.record({ type: 'audit.report', outcome: 'success', actorId: who!.principalId, meta, details: { ...details, rows: report.items.length } });
        return { body: report };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/reports/access-review',
      summary: 'Who can read each PHI or limited dataset now, and why (standing role, grant, break-glass)',
      tag: 'audit',
      auth,
      query: AccessReviewParams.extend({ format: z.enum(['json', 'csv']).default('json').describe('csv: one row per dataset and principal basis (ACCESS_REVIEW_COLUMNS)') }),
      responses: {
        200: {
          description: 'The review, per dataset; with format=csv, one CSV row per dataset and basis of access',
          schema: z.object({
            generated_at: z.string(),
            policy_version: z.string(),
            principals_considered: z.number(),
            principal_limit: z.number(),
            truncated: z.boolean(),
            datasets: z.array(z.object({ dataset_id: z.string(), project_id: z.string(), classification: z.string(), purposes: z.array(z.string()), access: z.array(AccessEntry) })),
          }),
        },
        404: { description: 'No such dataset' },
      },
      handler: async ({ query, auth: who, meta }) => {
        const { format, ...params } = query;
        const review = await r.accessReview(params);
        if (format === 'csv') {
          // Worked out in full first (the review is bounded by its principal limit), then written as one batch.
          const rows = review.datasets.flatMap((d) =>
            d.access.map((e) => ({ dataset_id: d.dataset_id, project_id: d.project_id, classification: d.classification, ...e, policy_version: review.policy_version, generated_at: review.generated_at })),
          );
          const details = { report: 'access-review', dataset: params.dataset ?? null, datasets: review.datasets.length, entries: rows.length };
          const name = `access-review${params.dataset ? `-${params.dataset.replace(/[^A-Za-z0-9._-]/g, '_')}` : ''}`;
          return exportAnswer(deps, { auth: who!, meta, format: 'csv', name, columns: ACCESS_REVIEW_COLUMNS, batches: oneBatch(rows), details });
        }
        await deps.audit.record({
          type: 'audit.report',
          outcome: 'success',
          actorId: who!.principalId,
          meta,
          details: { report: 'access-review', dataset: query.dataset ?? null, datasets: review.datasets.length, entries: review.datasets.reduce((n, d) => n + d.access.length, 0) },
        });
        return { body: review };
      },
    }),
  ];
}
