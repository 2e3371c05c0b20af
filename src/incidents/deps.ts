/**
 * What incident operations need, and what they share: the scope filter of
 * an incident, and how an incident reads as of now (days left on its clock).
 */
import type { AuditLog } from '../audit/log.ts';
import type { Clock, IdGenerator } from '../clock.ts';
import type { Sql } from '../db/client.ts';
import { daysLeft } from './deadline.ts';
import type { Incident, IncidentStore, ScopeFilter } from './store.ts';

/** Dependencies of the incident operations. */
export interface IncidentDeps {
  sql: Sql;
  store: IncidentStore;
  audit: AuditLog;
  clock: Clock;
  ids: IdGenerator;
  settings: {
    /** The covered entity's IANA time zone: calendar days are counted in it unless an incident names its own. */
    timeZone: string;
    /** Reminder points, in days before the deadline. */
    reminderDays: readonly number[];
  };
  /** Asks the webhook notifier to deliver what was just queued. */
  kick: () => void;
}

/** What an incident's scope reads: its window, and the principals and datasets it names (empty: all). */
export function scopeFilter(i: Incident): ScopeFilter {
  return { from: new Date(i.window_from), to: new Date(i.window_to), principalIds: i.principal_ids, datasetIds: i.dataset_ids };
}

/** An incident as shown: with the days left on its clock (null once closed) and whether it is overdue. */
export interface IncidentView extends Incident {
  days_left: number | null;
  overdue: boolean;
}

/** The incident as of `now`, its days counted in its own zone. */
export function viewOf(i: Incident, now: Date): IncidentView {
  if (i.status === 'closed') return { ...i, days_left: null, overdue: new Date(i.closed_at!).getTime() > new Date(i.deadline_at).getTime() };
  const left = daysLeft(now, { deadlineDate: i.deadline_date, deadlineAt: new Date(i.deadline_at), timeZone: i.time_zone });
  return { ...i, days_left: left.daysLeft, overdue: left.overdue };
}
