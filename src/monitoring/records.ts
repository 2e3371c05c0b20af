/**
 * What detectors read and what they produce. Records are the committed
 * decision records and audit events, reduced to what detection needs; an
 * alert names its detector, severity, subject, dedupe key and the records
 * behind it (its evidence).
 */
import type { Severity } from './policy.ts';

/** A committed decision record. */
export interface DecisionSeen {
  log: 'decision_log';
  id: string;
  at: number;
  chain: string;
  seq: number;
  principalId: string;
  principalKind: string | null;
  callerId: string | null;
  datasetId: string;
  classification: string | null;
  effect: 'allow' | 'deny';
  /** Granted columns carrying a Safe Harbor identifier category (per the catalog when read). */
  grantedIdentifiers: string[];
  /** Denied columns carrying an identifier category. */
  deniedIdentifiers: string[];
  release: boolean;
  source: string | null;
}

/** A committed audit event. */
export interface AuditSeen {
  log: 'audit_events';
  id: string;
  at: number;
  chain: string;
  seq: number;
  type: string;
  outcome: string;
  actorId: string | null;
  subjectId: string | null;
  sourceIp: string | null;
  details: Record<string, unknown>;
}

/** One record, either log. */
export type RecordSeen = DecisionSeen | AuditSeen;

/** A reference to a record behind an alert. */
export interface Evidence {
  log: RecordSeen['log'];
  id: string;
  at: number;
}

/** The detectors, by name (the `detector` column of an alert). */
export const DETECTORS = [
  'deny_burst',
  'phi_after_hours',
  'volume_anomaly',
  'first_access',
  'new_source',
  'break_glass',
  'mfa_failures',
  'webauthn_counter',
  'identifier_refusals',
  'chain_verification',
] as const;
/** A detector's name. */
export type DetectorName = (typeof DETECTORS)[number];

/** What a detector raises: a new alert, or a repeat of the open one with the same dedupe key. */
export interface AlertRaised {
  detector: DetectorName;
  severity: Severity;
  /** What it is about: a principal's id, a chain's id, an account key. */
  subject: string;
  /** One unresolved alert per key: repeats join it. */
  dedupeKey: string;
  title: string;
  details: Record<string, unknown>;
  /** When the pattern completed (the time of its last record). */
  at: number;
  evidence: Evidence[];
}

/** The evidence reference of a record. */
export function evidenceOf(r: RecordSeen): Evidence {
  return { log: r.log, id: r.id, at: r.at };
}

/** Orders records by time, then log, chain and position (the order detectors see them in). */
export function compareRecords(a: RecordSeen, b: RecordSeen): number {
  return a.at - b.at || (a.log < b.log ? -1 : a.log > b.log ? 1 : 0) || (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0) || a.seq - b.seq;
}
