/**
 * Incidents (docs/incidents.md): opened from alerts or directly, with the
 * breach-notification clock of 45 CFR §164.404(b), the scope read from the
 * decision log, the determination of §164.402(2), and an export of it all.
 * Security reviewers read with `audit:read` and write with
 * `incidents:manage`; closing is the breach determination, so it also needs
 * a fresh second factor. Every read is an audit event too (who looked at
 * which incident), as for the logs themselves.
 */
import { z } from 'zod';
import { closeIncident } from '../../incidents/closeIncident.ts';
import { scopeFilter, viewOf } from '../../incidents/deps.ts';
import { INCIDENT_CONTENT_TYPES, writeIncidentExport } from '../../incidents/exportIncident.ts';
import { linkAlerts } from '../../incidents/linkAlerts.ts';
import { openIncident } from '../../incidents/openIncident.ts';
import { NotFoundError } from '../../errors.ts';
import { isStorable } from '../../text.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const read = { kind: 'permission', permission: 'audit:read' } as const;
const manage = { kind: 'permission', permission: 'incidents:manage' } as const;

/** Stored free text of `min`–`max` characters (no NUL, no lone surrogate). */
const text = (min: number, max: number) => z.string().trim().min(min).max(max).refine(isStorable, 'text without NUL or lone surrogates');
const Instant = z.iso.datetime({ offset: true });
/** Most scope lists hold; the export streams every decision. */
const SCOPE_CAP = 1000;

const IdParams = z.strictObject({ id: z.uuid() });
const AlertIds = z.array(z.uuid()).min(1).max(100);

const OpenBody = z.strictObject({
  title: text(3, 200),
  description: text(1, 10_000),
  discovered_at: Instant.describe('when the incident was discovered (§164.404(a)(2)); may be earlier than now, never later'),
  time_zone: z.string().min(1).max(64).optional().describe("IANA zone the 60 calendar days are counted in; default: the covered entity's (CUSTOS_TIME_ZONE)"),
  alert_ids: z.array(z.uuid()).max(100).optional().describe('alerts the incident is opened from'),
  window: z
    .strictObject({ from: Instant.optional(), to: Instant.optional() })
    .optional()
    .describe("the period the scope reads; default: from the alerts' first occurrence to discovery (or their last occurrence, if later)"),
  principal_ids: z.array(z.uuid()).max(1000).optional().describe("scope: only these principals (and jobs they sponsor); default: the alerts' principal subjects, or all"),
  dataset_ids: z.array(z.string().min(1).max(128)).max(1000).optional().describe("scope: only these datasets; default: the alerts' dataset subjects, or all"),
});

const Factor = text(20, 10_000);
const CloseBody = z.strictObject({
  determination: z.enum(['breach', 'not_breach']),
  assessment: z
    .strictObject({
      nature_and_extent: Factor.describe('(i) the nature and extent of the PHI involved, including the types of identifiers and the likelihood of re-identification'),
      unauthorized_person: Factor.describe('(ii) the unauthorized person who used the PHI or to whom the disclosure was made'),
      acquired_or_viewed: Factor.describe('(iii) whether the PHI was actually acquired or viewed'),
      mitigation: Factor.describe('(iv) the extent to which the risk to the PHI has been mitigated'),
      low_probability_of_compromise: z.boolean().describe('the assessment demonstrates a low probability that the PHI has been compromised (required true for not_breach, false for breach)'),
    })
    .describe('the risk assessment of 45 CFR §164.402(2)'),
});

const ListQuery = z.strictObject({
  status: z.enum(['open', 'closed']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
const ExportQuery = z.strictObject({ format: z.enum(['json', 'csv']).default('json') });

const AlertItem = z.object({
  id: z.string(),
  detector: z.string(),
  severity: z.string(),
  subject: z.string(),
  title: z.string(),
  status: z.string(),
  first_at: z.string(),
  last_at: z.string(),
  occurrences: z.number(),
  linked_at: z.string().nullable(),
  linked_by: z.string().nullable(),
});
const IncidentItem = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  status: z.enum(['open', 'closed']),
  discovered_at: z.string(),
  time_zone: z.string(),
  discovery_date: z.string().describe('local date of discovery in time_zone'),
  deadline_date: z.string().describe('the 60th calendar day after discovery: the last day notice may go out'),
  deadline_at: z.string().describe('the last instant of deadline_date in time_zone'),
  days_left: z.number().nullable().describe('calendar days in time_zone from today to deadline_date: 0 on the last day, negative when overdue; null once closed'),
  overdue: z.boolean(),
  window_from: z.string(),
  window_to: z.string(),
  principal_ids: z.array(z.string()),
  dataset_ids: z.array(z.string()),
  opened_by: z.string(),
  created_at: z.string(),
  closed_at: z.string().nullable(),
  closed_by: z.string().nullable(),
  determination: z.enum(['breach', 'not_breach']).nullable(),
  assessment: z
    .object({ nature_and_extent: z.string(), unauthorized_person: z.string(), acquired_or_viewed: z.string(), mitigation: z.string(), low_probability_of_compromise: z.boolean() })
    .nullable()
    .describe('the four-factor risk assessment of §164.402(2), once closed'),
});
const WithAlerts = IncidentItem.extend({ alerts: z.array(AlertItem) });
const ScopeDoc = z.object({
  incident_id: z.string(),
  window: z.object({ from: z.string(), to: z.string() }),
  filters: z.object({ principal_ids: z.array(z.string()), dataset_ids: z.array(z.string()) }),
  decisions: z.object({ total: z.number(), allow: z.number(), deny: z.number() }),
  principals: z.array(z.object({ id: z.string(), name: z.string().nullable(), kind: z.string().nullable(), decisions: z.number(), allows: z.number(), first_at: z.string(), last_at: z.string() })),
  datasets: z.array(z.object({ id: z.string(), decisions: z.number(), allows: z.number(), principals: z.number() })),
  columns: z.array(z.object({ dataset_id: z.string(), column: z.string(), allows: z.number() })),
  tokens: z.array(z.object({ jti: z.string(), expires_at: z.string().nullable(), decision_id: z.string(), at: z.string(), principal_id: z.string(), sponsor_id: z.string().nullable(), dataset_id: z.string(), job: z.unknown() })),
  truncated: z.object({ principals: z.boolean(), datasets: z.boolean(), columns: z.boolean(), tokens: z.boolean() }),
});

/** Routes under /v1/incidents. */
export function incidentRoutes(deps: AppDeps): AnyRoute[] {
  const d = deps.incidents;
  const load = async (id: string) => {
    const i = await d.store.get(id);
    if (!i) throw new NotFoundError('Incident');
    return i;
  };
  return [
    defineRoute({
      method: 'post',
      path: '/v1/incidents',
      summary: 'Open an incident (from alerts or directly) and start its 60-day notification clock',
      tag: 'incidents',
      auth: manage,
      body: OpenBody,
      responses: { 201: { description: 'The incident, its deadline and linked alerts', schema: WithAlerts, headers: ['Location'] }, 400: { description: 'Invalid body, discovery in the future, unknown time zone' }, 404: { description: 'An alert does not exist' } },
      changesFacts: false,
      handler: async ({ body, auth, meta }) => {
        const opened = await openIncident(d, { body, actorId: auth!.principalId, meta });
        return { status: 201, headers: { Location: `/v1/incidents/${opened.incident.id}` }, body: { ...opened.incident, alerts: opened.alerts } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/incidents',
      summary: 'List incidents, newest first, with the days left on each clock',
      tag: 'incidents',
      auth: read,
      query: ListQuery,
      responses: { 200: { description: 'A page of incidents; pass next_cursor back as cursor', schema: z.object({ items: z.array(IncidentItem), next_cursor: z.string().nullable() }) } },
      handler: async ({ query, auth, meta }) => {
        const page = await d.store.list(query);
        const now = d.clock.now();
        await d.audit.record({ type: 'incident.listed', outcome: 'success', actorId: auth!.principalId, meta, details: { status: query.status ?? null, rows: page.items.length } });
        return { body: { items: page.items.map((i) => viewOf(i, now)), next_cursor: page.next_cursor } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/incidents/:id',
      summary: 'One incident: its deadline, days left in its time zone, linked alerts and determination',
      tag: 'incidents',
      auth: read,
      params: IdParams,
      responses: { 200: { description: 'The incident', schema: WithAlerts }, 404: { description: 'No such incident' } },
      handler: async ({ params, auth, meta }) => {
        const i = await load(params.id);
        const alerts = await d.store.alertsOf(i.id);
        await d.audit.record({ type: 'incident.viewed', outcome: 'success', actorId: auth!.principalId, subjectId: i.id, meta, details: { view: 'incident' } });
        return { body: { ...viewOf(i, d.clock.now()), alerts } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/incidents/:id/alerts',
      summary: 'Link more alerts to an open incident (its scope widens to cover them)',
      tag: 'incidents',
      auth: manage,
      params: IdParams,
      body: z.strictObject({ alert_ids: AlertIds }),
      responses: {
        200: { description: 'The incident with all its alerts', schema: WithAlerts.extend({ linked: z.array(z.string()) }) },
        404: { description: 'No such incident or alert' },
        409: { description: 'The incident is closed' },
      },
      changesFacts: false,
      handler: async ({ params, body, auth, meta }) => {
        const r = await linkAlerts(d, { id: params.id, alertIds: body.alert_ids, actorId: auth!.principalId, meta });
        return { body: { ...r.incident, alerts: await d.store.alertsOf(params.id), linked: r.linked } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/incidents/:id/scope',
      summary: 'What the decision log says happened in the incident: principals, datasets, columns granted, decisions, tokens',
      tag: 'incidents',
      auth: read,
      params: IdParams,
      responses: { 200: { description: `The scope (lists capped at ${SCOPE_CAP}; the export has every decision)`, schema: ScopeDoc }, 404: { description: 'No such incident' } },
      handler: async ({ params, auth, meta }) => {
        const i = await load(params.id);
        const scope = await d.store.scope(scopeFilter(i), SCOPE_CAP);
        await d.audit.record({ type: 'incident.viewed', outcome: 'success', actorId: auth!.principalId, subjectId: i.id, meta, details: { view: 'scope', decisions: scope.decisions.total } });
        return { body: { incident_id: i.id, window: { from: i.window_from, to: i.window_to }, filters: { principal_ids: i.principal_ids, dataset_ids: i.dataset_ids }, ...scope } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/v1/incidents/:id/close',
      summary: 'Close an incident with its breach determination and four-factor risk assessment (fresh MFA; not by someone the incident is about)',
      tag: 'incidents',
      auth: { ...manage, stepUp: true },
      params: IdParams,
      body: CloseBody,
      responses: {
        200: { description: 'The closed incident', schema: IncidentItem },
        400: { description: 'A factor missing, or a conclusion that does not support the determination' },
        401: { description: 'A fresh second factor is needed (step_up_required)' },
        403: { description: 'The closer is in the scope or the subject of a linked alert' },
        404: { description: 'No such incident' },
        409: { description: 'Already closed' },
      },
      changesFacts: false,
      handler: async ({ params, body, auth, meta }) => ({ body: await closeIncident(d, { id: params.id, determination: body.determination, assessment: body.assessment, actorId: auth!.principalId, meta }) }),
    }),
    defineRoute({
      method: 'get',
      path: '/v1/incidents/:id/export',
      summary: 'Export an incident with its evidence: alerts, scope, determination, audit trail and every decision in scope (streamed JSON or CSV)',
      tag: 'incidents',
      auth: read,
      params: IdParams,
      query: ExportQuery,
      responses: { 200: { description: 'application/json (one object, decisions last) or text/csv (RFC 4180, a `record` column)' }, 404: { description: 'No such incident' } },
      handler: async ({ params, query, auth, meta }) => {
        const i = await load(params.id);
        // On record before the first byte (fail closed), so the export's own trail shows it.
        await d.audit.record({ type: 'incident.exported', outcome: 'info', actorId: auth!.principalId, subjectId: i.id, meta, details: { format: query.format } });
        const now = d.clock.now();
        const [alerts, scope, trail] = await Promise.all([d.store.alertsOf(i.id), d.store.scope(scopeFilter(i), SCOPE_CAP), d.store.trail(i.id)]);
        const evidence = { exported_at: now.toISOString(), incident: viewOf(i, now), alerts, scope, trail };
        return {
          stream: {
            contentType: INCIDENT_CONTENT_TYPES[query.format],
            filename: `incident-${i.id}.${query.format}`,
            write: async (sink) => {
              const r = await writeIncidentExport({ format: query.format, evidence, decisions: d.store.decisions(scopeFilter(i), 500), out: sink });
              await d.audit
                .record({ type: 'incident.export.completed', outcome: r.complete ? 'success' : 'failure', actorId: auth!.principalId, subjectId: i.id, meta, details: { format: query.format, rows: r.rows, complete: r.complete } })
                .catch((err: unknown) => deps.log.error({ err, requestId: meta.requestId }, 'could not record the end of an incident export'));
            },
          },
        };
      },
    }),
  ];
}
