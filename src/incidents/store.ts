/**
 * What incidents are and where they are kept: the interface of their store
 * (PostgreSQL in `postgres/`). Reads take the client; writes run in the
 * transaction of the operation that makes them, with its audit event
 * (`withTx`).
 */
import type { StoredAuditEvent } from '../audit/log.ts';
import type { Tx } from '../db/client.ts';

/** The four factors of the risk assessment (45 CFR §164.402(2)(i)–(iv)), and its conclusion. */
export interface Assessment {
  /** (i) the nature and extent of the PHI involved, identifiers and likelihood of re-identification. */
  nature_and_extent: string;
  /** (ii) the unauthorized person who used the PHI or to whom it was disclosed. */
  unauthorized_person: string;
  /** (iii) whether the PHI was actually acquired or viewed. */
  acquired_or_viewed: string;
  /** (iv) the extent to which the risk to the PHI has been mitigated. */
  mitigation: string;
  /** The assessment demonstrates a low probability that the PHI has been compromised (required for `not_breach`). */
  low_probability_of_compromise: boolean;
}

/** An incident as stored. */
export interface Incident {
  id: string;
  title: string;
  description: string;
  status: 'open' | 'closed';
  discovered_at: string;
  time_zone: string;
  discovery_date: string;
  deadline_date: string;
  deadline_at: string;
  window_from: string;
  window_to: string;
  principal_ids: string[];
  dataset_ids: string[];
  opened_by: string;
  created_at: string;
  closed_at: string | null;
  closed_by: string | null;
  determination: 'breach' | 'not_breach' | null;
  assessment: Assessment | null;
}

/** A linked alert, as an incident shows it. */
export interface LinkedAlert {
  id: string;
  detector: string;
  severity: string;
  subject: string;
  title: string;
  status: string;
  first_at: string;
  last_at: string;
  occurrences: number;
  linked_at: string | null;
  linked_by: string | null;
}

/** What a scope reads from the decision log: a time window, and (when not empty) only these principals (or their jobs) and datasets. */
export interface ScopeFilter {
  from: Date;
  to: Date;
  principalIds: readonly string[];
  datasetIds: readonly string[];
}

/** What the decision log says happened in an incident's scope. */
export interface Scope {
  decisions: { total: number; allow: number; deny: number };
  principals: { id: string; name: string | null; kind: string | null; decisions: number; allows: number; first_at: string; last_at: string }[];
  datasets: { id: string; decisions: number; allows: number; principals: number }[];
  /** Columns granted by allows, per dataset. */
  columns: { dataset_id: string; column: string; allows: number }[];
  /** Dataset tokens issued in the scope (each with its decision). */
  tokens: { jti: string; expires_at: string | null; decision_id: string; at: string; principal_id: string; sponsor_id: string | null; dataset_id: string; job: unknown }[];
  /** Lists that hit their cap (the export carries every decision). */
  truncated: { principals: boolean; datasets: boolean; columns: boolean; tokens: boolean };
}

/** A reminder whose time has come, claimed for sending. */
export interface DueReminder {
  incident: Incident;
  days_before: number;
  due_at: string;
}

/** Page of incidents. */
export interface IncidentPage {
  items: Incident[];
  next_cursor: string | null;
}

/** Writes, bound to the transaction of one operation. */
export interface IncidentWrites {
  insert(incident: Incident, reminders: { days_before: number; due_at: Date }[]): Promise<void>;
  /** The incident, locked until the transaction ends (undefined: none). */
  lock(id: string): Promise<Incident | undefined>;
  /** The alerts with these ids that exist (any status). */
  alerts(ids: readonly string[]): Promise<LinkedAlert[]>;
  /** Which alert subjects name a principal, and which a dataset (others, e.g. chains, neither). */
  subjects(subjects: readonly string[]): Promise<{ principals: string[]; datasets: string[] }>;
  /** The subjects of the alerts linked to the incident. */
  linkedSubjects(incidentId: string): Promise<string[]>;
  /** Links alerts; returns the ids newly linked (already linked ones are skipped). */
  link(incidentId: string, alertIds: readonly string[], at: Date, by: string): Promise<string[]>;
  /** Widens the scope after linking alerts. */
  setScope(id: string, s: { window_from: Date; window_to: Date; principal_ids: string[]; dataset_ids: string[] }): Promise<Incident>;
  close(id: string, c: { at: Date; by: string; determination: 'breach' | 'not_breach'; assessment: Assessment }): Promise<Incident>;
  /** Reminders of open incidents due by `now`, not yet sent, locked (SKIP LOCKED: another replica's are passed over). */
  claimDueReminders(now: Date, limit: number): Promise<DueReminder[]>;
  markReminderSent(incidentId: string, daysBefore: number, at: Date): Promise<void>;
  /** Queues webhook notifications in this transaction (nothing when no webhook is configured). */
  queue(notes: { event: string; data: Record<string, unknown> }[]): Promise<void>;
}

/** The incident store. */
export interface IncidentStore {
  withTx(tx: Tx): IncidentWrites;
  get(id: string): Promise<Incident | undefined>;
  list(o: { status?: 'open' | 'closed' | undefined; limit: number; cursor?: string | undefined }): Promise<IncidentPage>;
  /** The linked alerts, oldest link first. */
  alertsOf(id: string): Promise<LinkedAlert[]>;
  scope(f: ScopeFilter, cap: number): Promise<Scope>;
  /** Whether a principal is in the scope: decided something (or sponsored a job that did) within it. */
  involves(f: ScopeFilter, principalId: string): Promise<boolean>;
  /** Every decision in the scope, oldest first, in bounded batches. */
  decisions(f: ScopeFilter, batch: number): AsyncGenerator<Record<string, unknown>[]>;
  /** The audit events about the incident, oldest first. */
  trail(id: string): Promise<StoredAuditEvent[]>;
}
