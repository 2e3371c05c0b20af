/**
 * What a reviewer works with: an alert raised by a detector over the
 * committed logs (migration 0023), its lifecycle (open → acknowledged →
 * resolved with a finding, an assignee along the way) and its change feed
 * (migration 0026: every write has a revision, in commit order).
 * `postgres/alertStore.ts` implements the store.
 */
import type { Tx } from '../db/client.ts';

/** Severities, lowest first. */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
/** Lifecycle states. */
export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
/** What a write to an alert was (the SSE event name). */
export const ALERT_EVENTS = ['raised', 'repeated', 'acknowledged', 'assigned', 'resolved', 'updated'] as const;

/** An alert's lifecycle state. */
export type AlertStatus = (typeof ALERT_STATUSES)[number];
/** An alert change's name. */
export type AlertEventName = (typeof ALERT_EVENTS)[number];

/** An alert as stored and shown. */
export interface Alert {
  id: string;
  detector: string;
  severity: (typeof SEVERITIES)[number];
  /** What it is about: a principal's id, a chain's id, a dataset's id. */
  subject: string;
  title: string;
  details: Record<string, unknown>;
  status: AlertStatus;
  assignee_id: string | null;
  assigned_at: string | null;
  assigned_by: string | null;
  /** Grouping, done by the detectors: the first and latest occurrence and how many were folded in. */
  first_at: string;
  last_at: string;
  occurrences: number;
  created_at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
  finding: string | null;
  /** Position in the change feed (commit order): the stream's event id. */
  revision: string;
  /** What the latest write was. */
  last_event: AlertEventName;
  updated_at: string;
}

/** The filters of a listing (all optional; a time range selects alerts active in it). */
export interface AlertFilter {
  status?: AlertStatus | undefined;
  severity?: Alert['severity'] | undefined;
  detector?: string | undefined;
  subject?: string | undefined;
  assignee?: string | undefined;
  /** Last occurrence at or after this time. */
  from?: string | undefined;
  /** First occurrence before this time. */
  to?: string | undefined;
  order: 'asc' | 'desc';
}

/** One page of alerts; `next_cursor` continues it. */
export interface AlertPage {
  items: Alert[];
  next_cursor: string | null;
}

/** One record behind an alert, as read from its log. */
export interface Evidence {
  log: 'decision_log' | 'audit_events';
  record_id: string;
  at: string;
  /** The record itself, or null when the log no longer holds it (retention) or never did. */
  record: Record<string, unknown> | null;
  /** Where a reviewer reads it through the log query API. */
  link: string;
}

/** One write to an alert, as the change feed keeps it (migration 0026). */
export interface AlertChangeRecord {
  revision: bigint;
  event: AlertEventName;
  /** The alert as it stood after this change. */
  alert: Alert;
}

/** A lifecycle change to write. */
export type AlertChange =
  | { kind: 'acknowledge'; by: string; at: Date }
  | { kind: 'assign'; by: string; at: Date; assigneeId: string }
  | { kind: 'resolve'; by: string; at: Date; finding: string };

/** The alerts store. */
export interface AlertStore {
  /** The same store inside a transaction. */
  withTx(tx: Tx): AlertStore;
  get(id: string): Promise<Alert | undefined>;
  /** Keyset page by (first occurrence, id). */
  list(o: { filter: AlertFilter; limit: number; cursor?: string | undefined }): Promise<AlertPage>;
  /** The evidence rows of an alert with their records (at most `limit`), and how many there are. */
  evidence(id: string, limit: number): Promise<{ items: Evidence[]; total: number }>;
  /**
   * In a transaction: takes the feed's write-order lock, then the alert's
   * row lock (in that order, as every alert writer does: migration 0026).
   */
  lockForChange(id: string): Promise<Alert | undefined>;
  /** In a transaction: writes the change and announces it on `custos_alerts` (delivered at commit). */
  apply(id: string, change: AlertChange): Promise<Alert>;
  /** The latest committed change's revision (0 when no alert was ever written). */
  latestRevision(): Promise<bigint>;
  /** The changes after `revision`, in revision (commit) order, at most `limit`, each with the alert as it stood after it. */
  changedSince(revision: bigint, limit: number): Promise<AlertChangeRecord[]>;
}
