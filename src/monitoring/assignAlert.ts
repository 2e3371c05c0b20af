/**
 * A reviewer hands an unresolved alert to a reviewer (themselves included):
 * the assignee must be an active person who holds `alerts:manage`, and
 * neither the actor nor the assignee may be the alert's subject or its
 * sponsor (noOneAlone.ts). A resolved alert cannot be assigned (409).
 */
import type { RequestMeta } from '../audit/log.ts';
import { permissionsOf } from '../auth/context.ts';
import { CustosError, ValidationError } from '../errors.ts';
import type { Alert } from './alerts.ts';
import { alertForActor, changeAlert } from './changeAlert.ts';
import type { AlertDeps } from './deps.ts';
import { refuseIfClose } from './noOneAlone.ts';

/** Options of {@link assignAlert}. */
export interface AssignAlertOptions {
  id: string;
  assigneeId: string;
  actorId: string;
  meta: RequestMeta;
}

const TYPE = 'alert.assigned';

/** Why `assigneeId` cannot take alerts, or undefined when they can. */
async function unfitAssignee(deps: AlertDeps, assigneeId: string): Promise<string | undefined> {
  let p;
  try {
    p = await deps.catalog.getPrincipal(assigneeId);
  } catch (err) {
    if (err instanceof CustosError && err.code === 'not_found') return 'no such principal';
    throw err;
  }
  if (p.kind !== 'user') return 'not a person';
  if (p.status !== 'active') return 'disabled';
  if (!permissionsOf(await deps.catalog.orgRolesOf(p.id)).has('alerts:manage')) return 'does not hold alerts:manage';
  return undefined;
}

/** Assigns the alert, with its audit event and notification, in one transaction. */
export async function assignAlert(deps: AlertDeps, o: AssignAlertOptions): Promise<Alert> {
  const alert = await alertForActor(deps, { id: o.id, actorId: o.actorId, type: TYPE, meta: o.meta });
  const unfit = await unfitAssignee(deps, o.assigneeId);
  if (unfit) {
    await deps.audit.record({ type: TYPE, outcome: 'failure', actorId: o.actorId, subjectId: o.id, meta: o.meta, details: { alert_id: o.id, assignee_id: o.assigneeId, reason: unfit } });
    throw new ValidationError('The assignee cannot take alerts.', [{ path: 'body.assignee_id', message: `${unfit}: the assignee must be an active person holding alerts:manage` }]);
  }
  await refuseIfClose(deps, { alert, principalId: o.assigneeId, role: 'assignee', actorId: o.actorId, type: TYPE, meta: o.meta });
  return changeAlert(deps, {
    id: o.id,
    actorId: o.actorId,
    meta: o.meta,
    type: TYPE,
    change: { kind: 'assign', by: o.actorId, at: deps.clock.now(), assigneeId: o.assigneeId },
    illegal: (a) =>
      a.status === 'resolved' ? 'The alert is resolved: a resolved alert cannot be assigned.' : a.assignee_id === o.assigneeId ? 'The alert is already assigned to this principal.' : undefined,
    details: { assignee_id: o.assigneeId, assignee_before: alert.assignee_id },
  });
}
