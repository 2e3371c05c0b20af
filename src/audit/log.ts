/**
 * What the audit event log is: an append-only record of security-relevant
 * events (authentication, factor changes, admin changes). `postgres/auditLog.ts`
 * implements it. Events never carry codes, secrets, passwords, tokens or
 * WebAuthn assertions: {@link scrubDetails} removes such keys defensively.
 */
import type { Tx } from '../db/client.ts';

/** Where a request came from. */
export interface RequestMeta {
  ip: string | undefined;
  requestId: string | undefined;
}

/** One audit event. */
export interface AuditEvent {
  type: string;
  outcome: 'success' | 'failure' | 'info';
  actorId?: string | null | undefined;
  subjectId?: string | null | undefined;
  meta?: RequestMeta | undefined;
  details?: Record<string, unknown> | undefined;
}

/** A stored audit event. */
export interface StoredAuditEvent {
  id: string;
  at: string;
  type: string;
  outcome: string;
  actor_id: string | null;
  subject_id: string | null;
  source_ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

/** The writer's side of the audit log. */
export interface AuditLog {
  /** Appends an event on its own; resolves once it is committed. */
  record(event: AuditEvent): Promise<void>;
  /**
   * Appends an event inside the caller's transaction: the change and its
   * event commit together, or neither does (docs/security-model.md, "every change with its
   * trace"). A failure throws, and the caller's transaction rolls back.
   */
  recordIn(tx: Tx, event: AuditEvent): Promise<void>;
}

const SECRET_KEY = /code|secret|password|token|assertion|response|credential_public|private|otp|challenge/i;

/** Drops keys that could carry secrets, at any depth. */
export function scrubDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details ?? {})) {
    if (SECRET_KEY.test(k)) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? scrubDetails(v as Record<string, unknown>) : v;
  }
  return out;
}
