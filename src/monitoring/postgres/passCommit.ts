/**
 * The commit of a detection pass: one call of custos_monitoring_commit
 * (migration 0024), so one statement and one transaction: the cursor advance
 * (compare-and-set on the value read: of two consumers that read the same
 * records, only one can commit them), the alerts (a repeat of an unresolved
 * alert with the same dedupe key joins it: occurrences, last_at), their
 * evidence, a signed-webhook outbox row per new alert, a `custos_alerts`
 * notification per alert raised or repeated (delivered at commit), and the
 * detectors' remembered state.
 *
 * One statement rather than sql.begin: when the connection dies inside a
 * postgres.js transaction, the client sends its ROLLBACK on the dead
 * connection and the process crashes (a TypeError in a timer, beyond any
 * catch). A single statement leaves nothing to send afterwards.
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql } from '../../db/client.ts';
import { CursorConflictError, type CommitResult, type PassCommit } from '../store.ts';

/** The channel the alert API listens on (payload `{"id", "event": "raised" | "repeated"}`). */
export const ALERTS_CHANNEL = 'custos_alerts';

/** Commits a pass; throws CursorConflictError when another consumer got there first. */
export async function commitPass(sql: Sql, pass: PassCommit, o: { clock: Clock; ids: IdGenerator; webhook: boolean }): Promise<CommitResult> {
  const now = o.clock.now().toISOString();
  const body = {
    webhook: o.webhook,
    cursor_sum: pass.cursorSum,
    advances: pass.advances,
    alerts: pass.alerts.map((a) => {
      const id = o.ids();
      const at = new Date(a.at).toISOString();
      const deliveryId = o.ids();
      return {
        id,
        detector: a.detector,
        severity: a.severity,
        subject: a.subject,
        dedupe_key: a.dedupeKey,
        title: a.title,
        details: a.details,
        at,
        evidence: a.evidence.map((e) => ({ log: e.log, record_id: e.id, at: new Date(e.at).toISOString() })),
        // The outbox row (src/grants/postgres/outbox.ts's payload shape), used only if the alert is new.
        delivery: { id: deliveryId, event: 'alert.raised', created_at: now, data: { id, detector: a.detector, severity: a.severity, subject: a.subject, title: a.title, at, details: a.details } },
      };
    }),
    seen: pass.changes.seen.map((s) => ({ kind: s.kind, subject: s.subject, value: s.value, first_at: new Date(s.at).toISOString(), record_id: s.recordId })),
    baselines: [...pass.changes.baselines].map(([p, b]) => ({ principal_id: p, interval_index: b.interval, count: b.count, mean: b.mean, variance: b.variance, intervals: b.intervals, alerted_interval: b.alerted })),
  };
  try {
    const [r] = await sql`SELECT custos_monitoring_commit(${sql.json(body as never)}) AS r`;
    return r!.r as CommitResult;
  } catch (err) {
    if ((err as { code?: string }).code === 'CU412') throw new CursorConflictError();
    throw err;
  }
}
