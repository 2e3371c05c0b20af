/**
 * What the pending-change store is: changes waiting for a second
 * administrator, and the role-graph reads and writes their operations make
 * inside one transaction. `postgres/` implements it.
 */
import type { Tx } from '../db/client.ts';
import type { ChangeKind, HoldReason } from './privilege.ts';

/** Where a change stands. `expired` is also shown for a pending change past its time. */
export type ChangeStatus = 'pending' | 'applied' | 'rejected' | 'withdrawn' | 'expired' | 'failed';

/** One proposed change, as stored. */
export interface PendingChange {
  id: string;
  kind: ChangeKind;
  /** Role id, principal id or `policy`. */
  target: string;
  /** What applying it does (kind-specific). */
  payload: Record<string, unknown>;
  before: unknown;
  after: unknown;
  /** Fingerprint of the target when proposed; applying requires it unchanged. */
  base: string;
  reasons: HoldReason[];
  comment: string | null;
  proposer_id: string;
  proposed_at: string;
  expires_at: string;
  status: ChangeStatus;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
}

/** A role as the change operations see it. */
export interface RoleState {
  id: string;
  description: string;
  inherits: string[];
}

/** A stored role assignment. */
export interface AssignmentRow {
  id: string;
  principal_id: string;
  role_id: string;
  project_id: string | null;
  created_by: string | null;
  created_at: string;
}

/** Reads and writes bound to one transaction. */
export interface ChangeTx {
  /** The postgres.js transaction, for `audit.recordIn`. */
  tx: Tx;
  /** Serialises every role-graph change (edits, assignments, approvals) until commit. */
  lockRoleGraph(): Promise<void>;
  role(id: string): Promise<RoleState | undefined>;
  /** Whether a person has set a password (redeemed an enrollment secret): issuing them a new one is a recovery. */
  enrolled(principalId: string): Promise<boolean>;
  /**
   * Who could hold the person's account: the receivers of their live
   * enrollment secrets and of the one they last enrolled with.
   */
  secretHoldersOf(principalId: string, at: Date): Promise<string[]>;
  /** The role and every role it inherits, transitively, with `parents` as its direct parents. */
  closureWith(roleId: string, parents: readonly string[]): Promise<string[]>;
  /** Principals holding the role directly, through a role inheriting it, or through an active grant of it; any scope. */
  holdersOf(roleId: string, at: Date): Promise<string[]>;
  /** Every role each principal holds (any scope, assignments and active grants), inheritance expanded. */
  rolesOf(principalIds: readonly string[], at: Date): Promise<Map<string, string[]>>;
  /** Refuses unknown parents, the role itself and cycles (ValidationError / ConflictError). */
  checkInherits(roleId: string, parents: readonly string[]): Promise<void>;
  updateRole(id: string, next: { description: string; inherits: string[] }): Promise<void>;
  insertRole(input: { id: string; description: string; inherits: string[] }): Promise<void>;
  /** ConflictError when it exists; ValidationError for unknown principal, role or project. */
  assign(input: { principal_id: string; role_id: string; project_id: string | null }, createdBy: string): Promise<AssignmentRow>;
  /** Checks an assignment could be made (references exist, not already there) without making it. */
  checkAssignable(input: { principal_id: string; role_id: string; project_id: string | null }): Promise<void>;
  assignment(id: string): Promise<AssignmentRow | undefined>;
  unassign(id: string): Promise<AssignmentRow | undefined>;
  latestPolicyVersion(): Promise<number>;
  insertPolicyVersion(v: { basedOn: number; documents: Record<string, string>; tests: Record<string, string>; authorId: string; comment: string | null; rollbackOf: number | null; at: Date }): Promise<{ version: number; digest: string } | undefined>;
  insertChange(c: Omit<PendingChange, 'status' | 'decided_by' | 'decided_at' | 'decision_reason'>): Promise<PendingChange>;
  /** The change, locked until commit. */
  lockChange(id: string): Promise<PendingChange | undefined>;
  decide(id: string, d: { status: Exclude<ChangeStatus, 'pending'>; by: string | null; at: Date; reason: string | null }): Promise<PendingChange>;
}

/** The pending-change store. */
export interface ChangeStore {
  /** Runs `fn` in one transaction; everything it writes commits together. */
  begin<T>(fn: (t: ChangeTx) => Promise<T>): Promise<T>;
  get(id: string): Promise<PendingChange | undefined>;
  /** Newest first; `before`: ids below this one (uuidv7 order). */
  list(q: { limit: number; before?: string | undefined; status?: ChangeStatus | undefined; now: Date }): Promise<{ items: PendingChange[]; next_cursor: string | null }>;
}
