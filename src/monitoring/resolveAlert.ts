/**
 * A reviewer closes an acknowledged alert with what they found:
 * acknowledged → resolved (the finding is required; it is the record of the
 * review). Not by the alert's subject (noOneAlone.ts). Resolving twice, or
 * an alert nobody acknowledged, answers 409 with the reason. Once resolved,
 * a repeat of the same pattern raises a new alert (migration 0023).
 */
import type { RequestMeta } from '../audit/log.ts';
import type { Alert } from './alerts.ts';
import { alertForActor, changeAlert } from './changeAlert.ts';
import type { AlertDeps } from './deps.ts';

/** Options of {@link resolveAlert}. */
export interface ResolveAlertOptions {
  id: string;
  /** What the reviewer found (validated storable, non-blank text). */
  finding: string;
  actorId: string;
  meta: RequestMeta;
}

const TYPE = 'alert.resolved';

/** Resolves the alert, with its audit event and notification, in one transaction. */
export async function resolveAlert(deps: AlertDeps, o: ResolveAlertOptions): Promise<Alert> {
  await alertForActor(deps, { id: o.id, actorId: o.actorId, type: TYPE, meta: o.meta });
  return changeAlert(deps, {
    id: o.id,
    actorId: o.actorId,
    meta: o.meta,
    type: TYPE,
    change: { kind: 'resolve', by: o.actorId, at: deps.clock.now(), finding: o.finding },
    illegal: (a) => (a.status === 'resolved' ? 'The alert is already resolved.' : a.status === 'open' ? 'The alert is not acknowledged yet: acknowledge it before resolving it.' : undefined),
    details: { finding: o.finding },
  });
}
