/**
 * Sends the reminders whose time has come, exactly once however many
 * replicas run this: each reminder row is claimed (FOR UPDATE SKIP LOCKED,
 * then marked sent) in the same transaction that queues its webhook
 * delivery in the outbox and appends its audit event. A replica that finds
 * a row locked passes it over; one that reads it after the commit finds it
 * sent. Reminders of closed incidents are never sent.
 */
import type { AuditEvent } from '../audit/log.ts';
import { commitWithEvent } from '../catalog/commitWithEvent.ts';
import { daysLeft } from './deadline.ts';
import type { IncidentDeps } from './deps.ts';

/** Sends up to `limit` due reminders in one transaction; returns how many. */
export async function sendDueReminders(deps: IncidentDeps, limit = 50): Promise<number> {
  const now = deps.clock.now();
  return commitWithEvent(deps, async (tx) => {
    const w = deps.store.withTx(tx);
    const due = await w.claimDueReminders(now, limit);
    const events: AuditEvent[] = [];
    const notes: { event: string; data: Record<string, unknown> }[] = [];
    for (const r of due) {
      const i = r.incident;
      const left = daysLeft(now, { deadlineDate: i.deadline_date, deadlineAt: new Date(i.deadline_at), timeZone: i.time_zone });
      await w.markReminderSent(i.id, r.days_before, now);
      // No title or description: a receiver learns which incident and how long is left, and reads the rest in Custos.
      const data = {
        incident_id: i.id,
        days_before: r.days_before,
        days_left: left.daysLeft,
        overdue: left.overdue,
        deadline_date: i.deadline_date,
        deadline_at: i.deadline_at,
        time_zone: i.time_zone,
        discovered_at: i.discovered_at,
      };
      notes.push({ event: 'incident.deadline_reminder', data });
      events.push({ type: 'incident.reminder_sent', outcome: 'info', actorId: null, subjectId: i.id, details: { days_before: r.days_before, due_at: r.due_at, days_left: left.daysLeft } });
    }
    await w.queue(notes);
    return { result: due.length, events };
  });
}
