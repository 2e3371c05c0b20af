/**
 * Links more alerts to an open incident. The scope follows them: the window
 * widens to cover their span, and a principal or dataset list that already
 * narrows the scope gains their subjects (an empty list, meaning all, stays
 * all). A closed incident is a record and does not change (409).
 */
import type { RequestMeta } from '../audit/log.ts';
import { commitWithEvent } from '../catalog/commitWithEvent.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { viewOf, type IncidentDeps, type IncidentView } from './deps.ts';

/** Options of {@link linkAlerts}. */
export interface LinkAlertsOptions {
  id: string;
  alertIds: string[];
  actorId: string;
  meta: RequestMeta;
}

/** Links the alerts; the links, the widened scope and the audit event commit together. */
export async function linkAlerts(deps: IncidentDeps, o: LinkAlertsOptions): Promise<{ incident: IncidentView; linked: string[] }> {
  const now = deps.clock.now();
  const alertIds = [...new Set(o.alertIds)];
  return commitWithEvent(deps, async (tx) => {
    const w = deps.store.withTx(tx);
    // Locked: a concurrent close waits for this link (or this link sees the incident closed).
    const incident = await w.lock(o.id);
    if (!incident) throw new NotFoundError('Incident');
    if (incident.status === 'closed') throw new ConflictError('The incident is closed; a closed incident does not change.');
    const alerts = await w.alerts(alertIds);
    if (alerts.length !== alertIds.length) throw new NotFoundError('Alert');
    const linked = await w.link(o.id, alertIds, now, o.actorId);
    const added = alerts.filter((a) => linked.includes(a.id));
    const subjects = await w.subjects(added.map((a) => a.subject));
    const from = [incident.window_from, ...added.map((a) => a.first_at)].reduce((a, b) => (new Date(b) < new Date(a) ? b : a));
    const to = [incident.window_to, ...added.map((a) => a.last_at)].reduce((a, b) => (new Date(b) > new Date(a) ? b : a));
    const widen = (list: string[], more: string[]) => (list.length ? [...new Set([...list, ...more])] : list);
    const after = await w.setScope(o.id, {
      window_from: new Date(from),
      window_to: new Date(to),
      principal_ids: widen(incident.principal_ids, subjects.principals),
      dataset_ids: widen(incident.dataset_ids, subjects.datasets),
    });
    return {
      result: { incident: viewOf(after, now), linked },
      events: [
        {
          type: 'incident.alerts_linked',
          outcome: 'success',
          actorId: o.actorId,
          subjectId: o.id,
          meta: o.meta,
          details: {
            alert_ids: linked,
            already_linked: alertIds.filter((a) => !linked.includes(a)),
            window: { from: after.window_from, to: after.window_to },
            principal_ids: after.principal_ids,
            dataset_ids: after.dataset_ids,
          },
        },
      ],
    };
  });
}
