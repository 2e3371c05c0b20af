/**
 * The reviewer's alert API: list and read (`audit:read`), acknowledge,
 * assign and resolve (`alerts:manage`; resolving, which closes the review,
 * with a fresh second factor as for break-glass reviews), and a
 * Server-Sent Events stream of every change for consoles. Each operation
 * commits with its audit event and its `custos_alerts` notification
 * (src/monitoring/); reads are recorded too. Nobody works an alert about
 * themselves (src/monitoring/noOneAlone.ts).
 */
import { z } from 'zod';
import { FilterText, PageParams } from '../../audit/postgres/query.ts';
import { ValidationError } from '../../errors.ts';
import { acknowledgeAlert } from '../../monitoring/acknowledgeAlert.ts';
import { ALERT_EVENTS, ALERT_STATUSES, SEVERITIES } from '../../monitoring/alerts.ts';
import { assignAlert } from '../../monitoring/assignAlert.ts';
import { getAlert } from '../../monitoring/getAlert.ts';
import { listAlerts } from '../../monitoring/listAlerts.ts';
import { resolveAlert } from '../../monitoring/resolveAlert.ts';
import { accessEnded } from '../../monitoring/streamAccess.ts';
import { streamAlerts } from '../../monitoring/streamAlerts.ts';
import type { AppDeps } from '../deps.ts';
import { defineRoute, storableText, type AnyRoute, type RequestHeaders } from '../route.ts';

const read = { kind: 'permission', permission: 'audit:read' } as const;
const manage = { kind: 'permission', permission: 'alerts:manage' } as const;
const IdParams = z.strictObject({ id: z.uuid() });
const Iso = z.iso.datetime({ offset: true });
const Time = z.string().describe('RFC 3339 timestamp');

const AlertSchema = z.object({
  id: z.string(),
  detector: z.string(),
  severity: z.enum(SEVERITIES),
  subject: z.string().describe("what the alert is about: a principal's, a chain's or a dataset's id"),
  title: z.string(),
  details: z.record(z.string(), z.unknown()),
  status: z.enum(ALERT_STATUSES),
  assignee_id: z.string().nullable(),
  assigned_at: Time.nullable(),
  assigned_by: z.string().nullable(),
  first_at: Time.describe('first occurrence (grouping is done by the detectors)'),
  last_at: Time.describe('latest occurrence'),
  occurrences: z.number().int().describe('occurrences of the pattern folded into this alert'),
  created_at: Time,
  acknowledged_at: Time.nullable(),
  acknowledged_by: z.string().nullable(),
  resolved_at: Time.nullable(),
  resolved_by: z.string().nullable(),
  finding: z.string().nullable(),
  revision: z.string().describe('position in the change feed: the id of its latest stream event'),
  last_event: z.enum(ALERT_EVENTS),
  updated_at: Time,
});
const EvidenceSchema = z.object({
  log: z.enum(['decision_log', 'audit_events']),
  record_id: z.string(),
  at: Time,
  record: z.record(z.string(), z.unknown()).nullable().describe('the record as the log holds it; null if the log holds it no longer'),
  link: z.string().describe('the record in the log query API'),
});
const AlertQuery = z.strictObject({
  status: z.enum(ALERT_STATUSES).optional(),
  severity: z.enum(SEVERITIES).optional(),
  detector: FilterText(64).optional(),
  subject: FilterText(128).optional(),
  assignee: z.uuid().optional(),
  from: Iso.optional().describe('alerts last seen at or after this time (ISO 8601)'),
  to: Iso.optional().describe('alerts first seen before this time (ISO 8601)'),
  order: z.enum(['desc', 'asc']).default('desc').describe('by first occurrence, then id: desc = newest first'),
  ...PageParams,
});
const Finding = storableText(4000).refine((s) => s.trim().length > 0, 'a finding is required');
const Conflict = { description: 'Illegal transition (e.g. resolving twice, acknowledging a resolved alert); the reason says why' };
const NotYours = { description: "The caller is the alert's subject or its sponsor (no one alone), or lacks the permission" };

/** The bearer token of a request (the stream checks it again at every heartbeat). */
function bearerOf(headers: RequestHeaders): string {
  return /^Bearer (\S+)$/i.exec(headers.authorization ?? '')?.[1] ?? '';
}

/** `Last-Event-ID` (a revision), or undefined; refuses anything but digits. */
function lastEventId(headers: RequestHeaders): bigint | undefined {
  const v = headers['last-event-id'];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !/^\d{1,19}$/.test(v)) throw new ValidationError('Last-Event-ID is not an id of this stream.', [{ path: 'headers.last-event-id', message: 'a revision (digits)' }]);
  return BigInt(v);
}

/** Routes under /v1/alerts. */
export function alertRoutes(deps: AppDeps): AnyRoute[] {
  const a = deps.alerts;
  return [
    // Before /v1/alerts/:id, which would otherwise take `stream` for an id.
    defineRoute({
      method: 'get',
      path: '/v1/alerts/stream',
      summary: 'Server-Sent Events: one event per raised, repeated, acknowledged, assigned or resolved alert, from any replica; Last-Event-ID replays what was missed',
      tag: 'alerts',
      auth: read,
      responses: {
        200: { description: 'text/event-stream: `id:` (revision), `event:` (what happened), `data:` {event, alert}; comment lines as heartbeats' },
        429: { description: 'The caller holds the most streams one principal may open at once' },
      },
      handler: async ({ headers, auth, meta }) => {
        const since = lastEventId(headers);
        const token = bearerOf(headers);
        const release = a.feed.reserve(auth!.principalId);
        // If the stream never starts (the deadline answered first), the slot must not stay taken.
        let started = false;
        setTimeout(() => {
          if (!started) release();
        }, deps.settings.requestTimeoutMs + 1000).unref();
        try {
          await deps.audit.record({ type: 'alerts.stream.opened', outcome: 'info', actorId: auth!.principalId, meta, details: { last_event_id: since?.toString() ?? null } });
        } catch (err) {
          release();
          throw err;
        }
        return {
          // Proxies (nginx) must pass events on at once rather than buffer them.
          headers: { 'X-Accel-Buffering': 'no' },
          stream: {
            contentType: 'text/event-stream; charset=utf-8',
            write: async (sink) => {
              started = true;
              try {
                const r = await streamAlerts(a.feed, {
                  sink,
                  principalId: auth!.principalId,
                  lastEventId: since,
                  heartbeatMs: a.heartbeatMs,
                  accessEnded: () => accessEnded(deps.auth, token, 'audit:read'),
                });
                await deps.audit
                  .record({ type: 'alerts.stream.closed', outcome: 'info', actorId: auth!.principalId, meta, details: { reason: r.reason, events: r.events, replayed: r.replayed } })
                  .catch((err: unknown) => deps.log.error({ err, requestId: meta.requestId }, 'could not record the end of an alert stream'));
              } finally {
                release();
              }
            },
          },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/alerts',
      summary: 'List alerts (filters: status, severity, detector, subject, assignee, time range; cursor pagination by first occurrence then id)',
      tag: 'alerts',
      auth: read,
      query: AlertQuery,
      responses: { 200: { description: 'A page of alerts; pass next_cursor back as cursor', schema: z.object({ items: z.array(AlertSchema), next_cursor: z.string().nullable() }) } },
      handler: async ({ query, auth, meta }) => {
        const { limit, cursor, ...filter } = query;
        return { body: await listAlerts(a, { filter, limit, cursor, actorId: auth!.principalId, meta }) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/v1/alerts/:id',
      summary: 'One alert with its evidence: the decision records and audit events behind it, read from the logs, with links to them',
      tag: 'alerts',
      auth: read,
      params: IdParams,
      responses: { 200: { description: 'The alert and its evidence', schema: AlertSchema.extend({ evidence: z.array(EvidenceSchema), evidence_total: z.number().int() }) }, 404: { description: 'No such alert' } },
      handler: async ({ params, auth, meta }) => ({ body: await getAlert(a, { id: params.id, actorId: auth!.principalId, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/alerts/:id/acknowledge',
      summary: "Acknowledge an open alert (not one's own)",
      tag: 'alerts',
      auth: manage,
      changesFacts: false,
      params: IdParams,
      responses: { 200: { description: 'Acknowledged', schema: AlertSchema }, 403: NotYours, 404: { description: 'No such alert' }, 409: Conflict },
      handler: async ({ params, auth, meta }) => ({ body: await acknowledgeAlert(a, { id: params.id, actorId: auth!.principalId, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/alerts/:id/assign',
      summary: "Assign an unresolved alert to a reviewer holding alerts:manage (neither the caller's nor the assignee's own alert)",
      tag: 'alerts',
      auth: manage,
      changesFacts: false,
      params: IdParams,
      body: z.strictObject({ assignee_id: z.uuid() }),
      responses: { 200: { description: 'Assigned', schema: AlertSchema }, 400: { description: 'The assignee is not an active person holding alerts:manage' }, 403: NotYours, 404: { description: 'No such alert' }, 409: Conflict },
      handler: async ({ params, body, auth, meta }) => ({ body: await assignAlert(a, { id: params.id, assigneeId: body.assignee_id, actorId: auth!.principalId, meta }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/v1/alerts/:id/resolve',
      summary: "Resolve an acknowledged alert with a finding (fresh MFA; not one's own)",
      tag: 'alerts',
      auth: { ...manage, stepUp: true },
      changesFacts: false,
      params: IdParams,
      body: z.strictObject({ finding: Finding }),
      responses: { 200: { description: 'Resolved', schema: AlertSchema }, 403: NotYours, 404: { description: 'No such alert' }, 409: Conflict },
      handler: async ({ params, body, auth, meta }) => ({ body: await resolveAlert(a, { id: params.id, finding: body.finding, actorId: auth!.principalId, meta }) }),
    }),
  ];
}
