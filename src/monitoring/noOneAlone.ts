/**
 * "No one alone" (docs/security-model.md) for alerts: nobody works an alert
 * about themselves. A reviewer who is an alert's subject could otherwise
 * acknowledge and resolve away the evidence of their own misuse, or take
 * the alert to sit on it. A service acts for its sponsor, so an alert about
 * a service is about its sponsor too.
 */
import type { RequestMeta } from '../audit/log.ts';
import { CustosError, ForbiddenError } from '../errors.ts';
import type { Alert } from './alerts.ts';
import type { AlertDeps } from './deps.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why `principalId` is too close to the alert to work it, or undefined when they are not. */
export async function closeness(deps: Pick<AlertDeps, 'catalog'>, alert: Alert, principalId: string): Promise<'subject' | 'sponsor of the subject' | undefined> {
  if (alert.subject.toLowerCase() === principalId.toLowerCase()) return 'subject';
  if (!UUID.test(alert.subject)) return undefined;
  try {
    const subject = await deps.catalog.getPrincipal(alert.subject);
    if (subject.kind === 'service' && subject.sponsor_id === principalId) return 'sponsor of the subject';
  } catch (err) {
    // An alert about something other than a principal (a chain, a dataset): nobody is its subject.
    if (err instanceof CustosError && err.code === 'not_found') return undefined;
    throw err;
  }
  return undefined;
}

/**
 * Refuses (and records the refusal) when the actor — or, for an
 * assignment, the assignee — is the alert's subject or its sponsor.
 */
export async function refuseIfClose(
  deps: AlertDeps,
  o: { alert: Alert; principalId: string; role: 'actor' | 'assignee'; actorId: string; type: string; meta: RequestMeta },
): Promise<void> {
  const why = await closeness(deps, o.alert, o.principalId);
  if (!why) return;
  await deps.audit.record({
    type: o.type,
    outcome: 'failure',
    actorId: o.actorId,
    subjectId: o.alert.id,
    meta: o.meta,
    details: { alert_id: o.alert.id, alert_subject: o.alert.subject, reason: 'no-one-alone', who: o.role, relation: why, ...(o.role === 'assignee' ? { assignee_id: o.principalId } : {}) },
  });
  throw new ForbiddenError(
    o.role === 'actor'
      ? `You are the ${why} of this alert: another reviewer must handle it.`
      : `The assignee is the ${why} of this alert: assign it to another reviewer.`,
    { alertId: o.alert.id, principalId: o.principalId, relation: why },
  );
}
