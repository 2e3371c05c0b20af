/**
 * One alert with its evidence: the decision records and audit events behind
 * it, read from the logs themselves (not copies), each with a link to it in
 * the log query API. Reading it is recorded (`alert.viewed`): the evidence
 * holds decision records, which say who asked for which data.
 */
import type { RequestMeta } from '../audit/log.ts';
import { NotFoundError } from '../errors.ts';
import type { Alert, Evidence } from './alerts.ts';
import type { AlertDeps } from './deps.ts';

/** At most this many evidence records are read into one answer (the links and `evidence_total` say where the rest are). */
export const EVIDENCE_LIMIT = 200;

/** An alert with its evidence. */
export interface AlertWithEvidence extends Alert {
  evidence: Evidence[];
  evidence_total: number;
}

/** Options of {@link getAlert}. */
export interface GetAlertOptions {
  id: string;
  actorId: string;
  meta: RequestMeta;
}

/** The alert and its evidence, recorded; NotFoundError when there is no such alert. */
export async function getAlert(deps: AlertDeps, o: GetAlertOptions): Promise<AlertWithEvidence> {
  const alert = await deps.alerts.get(o.id);
  if (!alert) throw new NotFoundError('The alert');
  const evidence = await deps.alerts.evidence(o.id, EVIDENCE_LIMIT);
  await deps.audit.record({
    type: 'alert.viewed',
    outcome: 'success',
    actorId: o.actorId,
    subjectId: o.id,
    meta: o.meta,
    details: { alert_id: o.id, alert_subject: alert.subject, evidence: evidence.items.length, evidence_total: evidence.total },
  });
  return { ...alert, evidence: evidence.items, evidence_total: evidence.total };
}
