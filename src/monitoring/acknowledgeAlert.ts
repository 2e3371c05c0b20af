/**
 * A reviewer takes an open alert in hand: open → acknowledged. Not by the
 * alert's subject (noOneAlone.ts); an acknowledged or resolved alert answers
 * 409 with the reason.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { Alert } from './alerts.ts';
import { alertForActor, changeAlert } from './changeAlert.ts';
import type { AlertDeps } from './deps.ts';

/** Options of {@link acknowledgeAlert}. */
export interface AcknowledgeAlertOptions {
  id: string;
  actorId: string;
  meta: RequestMeta;
}

const TYPE = 'alert.acknowledged';

/** Acknowledges the alert, with its audit event and notification, in one transaction. */
export async function acknowledgeAlert(deps: AlertDeps, o: AcknowledgeAlertOptions): Promise<Alert> {
  await alertForActor(deps, { id: o.id, actorId: o.actorId, type: TYPE, meta: o.meta });
  return changeAlert(deps, {
    id: o.id,
    actorId: o.actorId,
    meta: o.meta,
    type: TYPE,
    change: { kind: 'acknowledge', by: o.actorId, at: deps.clock.now() },
    illegal: (a) =>
      a.status === 'resolved' ? 'The alert is resolved: a resolved alert cannot be acknowledged.' : a.status === 'acknowledged' ? 'The alert is already acknowledged.' : undefined,
  });
}
