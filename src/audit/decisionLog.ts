/**
 * What the decision log is, from the writer's side: every decision, allow or
 * deny, is appended durably before its answer leaves the server.
 */
import type { Decision, DecisionInput } from '../engine/types.ts';

/** One decision record. */
export interface DecisionRecord {
  id: string;
  at: Date;
  requestId: string | undefined;
  /** Who asked: the enforcement point, admin or token endpoint's client. */
  callerId: string | null;
  input: DecisionInput;
  decision: Decision;
  latencyUs: number;
  /** For a token: its id, expiry and the job it was issued to. */
  token?: { jti: string; expiresAt: Date; job: Record<string, unknown> } | undefined;
  /**
   * Data leaves on this answer if it allows: an enforcement point asked, or a
   * token was issued. False for an administrator's what-if and for a token
   * request that yielded no token. Stored as `input.release`, inside the
   * hashed record; the accounting of disclosures (§164.528) lists releases only.
   */
  release: boolean;
  /**
   * The caller's network address as the server saw it (after `trust proxy`),
   * when known. Stored as `input.source`, inside the hashed record, and left
   * out entirely when unknown, so records without it encode as before.
   * Monitoring learns each service's addresses from it (docs/monitoring.md).
   */
  source?: string | undefined;
}

/** Appends decision records; `append` resolves only after commit. */
export interface DecisionLogWriter {
  append(record: DecisionRecord): Promise<void>;
}
