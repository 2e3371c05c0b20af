/**
 * The one way a lifecycle change commits: under the feed's write-order lock
 * and the alert's row lock, the state is checked again (two reviewers acting
 * at once: one wins, the other gets 409), the change is written, announced
 * on `custos_alerts` and recorded, all in one transaction ("every change
 * with its trace"). A refused transition is recorded too.
 */
import type { RequestMeta } from '../audit/log.ts';
import { commitWithEvent } from '../catalog/commitWithEvent.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { Alert, AlertChange } from './alerts.ts';
import type { AlertDeps } from './deps.ts';
import { refuseIfClose } from './noOneAlone.ts';

/** Options of {@link changeAlert}. */
export interface ChangeAlertOptions {
  id: string;
  actorId: string;
  meta: RequestMeta;
  /** The audit event type (`alert.acknowledged`, …). */
  type: string;
  change: AlertChange;
  /** Why the transition is illegal from this state, or undefined when it is legal. */
  illegal: (alert: Alert) => string | undefined;
  /** What the event records besides the alert and its states. */
  details?: Record<string, unknown>;
}

/** Checks, writes, announces and records the change; all commit or none does. */
export async function changeAlert(deps: AlertDeps, o: ChangeAlertOptions): Promise<Alert> {
  try {
    return await commitWithEvent(deps, async (tx) => {
      const store = deps.alerts.withTx(tx);
      const before = await store.lockForChange(o.id);
      if (!before) throw new NotFoundError('The alert');
      const reason = o.illegal(before);
      if (reason) throw new ConflictError(reason, { alertId: o.id, status: before.status });
      const after = await store.apply(o.id, o.change);
      const details = { alert_id: o.id, alert_subject: before.subject, detector: before.detector, status_before: before.status, status_after: after.status, revision: after.revision, ...o.details };
      return { result: after, events: [{ type: o.type, outcome: 'success', actorId: o.actorId, subjectId: o.id, meta: o.meta, details }] };
    });
  } catch (err) {
    if (err instanceof ConflictError) {
      await deps.audit.record({ type: o.type, outcome: 'failure', actorId: o.actorId, subjectId: o.id, meta: o.meta, details: { alert_id: o.id, reason: err.message, ...o.details } });
    }
    throw err;
  }
}

/**
 * The alert an actor is about to change, once they may: not found, or
 * refused (403, recorded as `type`) when the actor is its subject or that
 * subject's sponsor. The subject never changes, so this needs no lock; the
 * state is checked again under one by {@link changeAlert}.
 */
export async function alertForActor(deps: AlertDeps, o: { id: string; actorId: string; type: string; meta: RequestMeta }): Promise<Alert> {
  const alert = await deps.alerts.get(o.id);
  if (!alert) throw new NotFoundError('The alert');
  await refuseIfClose(deps, { alert, principalId: o.actorId, role: 'actor', actorId: o.actorId, type: o.type, meta: o.meta });
  return alert;
}
