/**
 * Opens an incident, from alerts or directly, and starts its clock: notice
 * of a breach is due "without unreasonable delay and in no case later than
 * 60 calendar days after discovery" (45 CFR §164.404(b)); a breach counts
 * as discovered on the first day it is known, or by reasonable diligence
 * would have been (§164.404(a)(2)), so discovery may be earlier than the
 * opening, but never later than now. The deadline is fixed at opening, in
 * the incident's zone, and the reminders before it are scheduled in the
 * same transaction as the incident and its audit event.
 */
import type { RequestMeta } from '../audit/log.ts';
import { commitWithEvent } from '../catalog/commitWithEvent.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { canonicalTimeZone, notificationDeadline, reminderDueAt } from './deadline.ts';
import { viewOf, type IncidentDeps, type IncidentView } from './deps.ts';
import type { Incident, LinkedAlert } from './store.ts';

/** What a reviewer gives to open an incident. */
export interface OpenIncidentInput {
  title: string;
  description: string;
  discovered_at: string;
  time_zone?: string | undefined;
  alert_ids?: string[] | undefined;
  /** The period the scope reads; defaults to the linked alerts' span, up to discovery. */
  window?: { from?: string | undefined; to?: string | undefined } | undefined;
  /** Only these principals (and jobs they sponsor); default: the linked alerts' principal subjects, or everyone. */
  principal_ids?: string[] | undefined;
  /** Only these datasets; default: the linked alerts' dataset subjects, or every dataset. */
  dataset_ids?: string[] | undefined;
}

/** Options of {@link openIncident}. */
export interface OpenIncidentOptions {
  body: OpenIncidentInput;
  actorId: string;
  meta: RequestMeta;
}

/** The opened incident, with its alerts. */
export interface OpenedIncident {
  incident: IncidentView;
  alerts: LinkedAlert[];
}

/** The zone to count days in: the incident's own, or the configured one; refused when unknown. */
export function zoneOf(requested: string | undefined, configured: string): string {
  const zone = canonicalTimeZone(requested ?? configured);
  if (!zone) throw new ValidationError('The time zone is not a known IANA time zone.', [{ path: 'body.time_zone', message: 'an IANA time zone such as America/New_York' }]);
  return zone;
}

/** Opens the incident; it, its alert links, its reminders and its audit event commit together. */
export async function openIncident(deps: IncidentDeps, o: OpenIncidentOptions): Promise<OpenedIncident> {
  const now = deps.clock.now();
  const discovered = new Date(o.body.discovered_at);
  if (discovered.getTime() > now.getTime()) throw new ValidationError('Discovery cannot be in the future.', [{ path: 'body.discovered_at', message: 'at or before now' }]);
  const zone = zoneOf(o.body.time_zone, deps.settings.timeZone);
  const deadline = notificationDeadline(discovered, zone);
  const alertIds = [...new Set(o.body.alert_ids ?? [])];
  return commitWithEvent(deps, async (tx) => {
    const w = deps.store.withTx(tx);
    const alerts = await w.alerts(alertIds);
    if (alerts.length !== alertIds.length) throw new NotFoundError('Alert');
    const subjects = await w.subjects(alerts.map((a) => a.subject));
    const from = o.body.window?.from ?? (alerts.length ? minOf(alerts.map((a) => a.first_at)) : undefined);
    if (!from) throw new ValidationError('Give the window the scope reads (window.from), or alerts to take it from.', [{ path: 'body.window.from', message: 'required without alert_ids' }]);
    const to = o.body.window?.to ?? maxOf([discovered.toISOString(), ...alerts.map((a) => a.last_at)]);
    if (new Date(to).getTime() < new Date(from).getTime()) throw new ValidationError('The window ends before it starts.', [{ path: 'body.window.to', message: 'at or after window.from' }]);
    const id = deps.ids();
    const incident: Incident = {
      id,
      title: o.body.title,
      description: o.body.description,
      status: 'open',
      discovered_at: discovered.toISOString(),
      time_zone: deadline.timeZone,
      discovery_date: deadline.discoveryDate,
      deadline_date: deadline.deadlineDate,
      deadline_at: deadline.deadlineAt.toISOString(),
      window_from: new Date(from).toISOString(),
      window_to: new Date(to).toISOString(),
      principal_ids: [...new Set(o.body.principal_ids ?? subjects.principals)],
      dataset_ids: [...new Set(o.body.dataset_ids ?? subjects.datasets)],
      opened_by: o.actorId,
      created_at: now.toISOString(),
      closed_at: null,
      closed_by: null,
      determination: null,
      assessment: null,
    };
    // Points already passed at opening are not sent late in a burst: the incident's own days_left says where it stands.
    const reminders = deps.settings.reminderDays.map((d) => ({ days_before: d, due_at: reminderDueAt(deadline, d) })).filter((r) => r.due_at.getTime() > now.getTime());
    await w.insert(incident, reminders);
    await w.link(id, alertIds, now, o.actorId);
    const linked = alerts.map((a) => ({ ...a, linked_at: now.toISOString(), linked_by: o.actorId }));
    return {
      result: { incident: viewOf(incident, now), alerts: linked },
      events: [
        {
          type: 'incident.opened',
          outcome: 'success',
          actorId: o.actorId,
          subjectId: id,
          meta: o.meta,
          details: {
            id,
            title: incident.title,
            discovered_at: incident.discovered_at,
            time_zone: incident.time_zone,
            deadline_date: incident.deadline_date,
            deadline_at: incident.deadline_at,
            alert_ids: alertIds,
            window: { from: incident.window_from, to: incident.window_to },
            principal_ids: incident.principal_ids,
            dataset_ids: incident.dataset_ids,
            reminders: reminders.map((r) => ({ days_before: r.days_before, due_at: r.due_at.toISOString() })),
          },
        },
      ],
    };
  });
}

const minOf = (xs: string[]) => xs.reduce((a, b) => (new Date(b) < new Date(a) ? b : a));
const maxOf = (xs: string[]) => xs.reduce((a, b) => (new Date(b) > new Date(a) ? b : a));
