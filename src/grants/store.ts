/**
 * What the just-in-time workflow stores: access requests and their
 * approvals, grants, break-glass review items, and the notification outbox.
 * Each write is one transaction that also appends its audit events and
 * queues its notifications, so a state change, its trace and its
 * announcement commit together or not at all ("every change with its trace", docs/security-model.md).
 */
import type { AuditEvent } from '../audit/log.ts';

/** An access request as stored and shown. */
export interface AccessRequest {
  id: string;
  requester_id: string;
  role_id: string;
  project_id: string | null;
  dataset_id: string | null;
  justification: string;
  duration_seconds: number;
  starts_at: string | null;
  approvals_required: number;
  status: 'pending' | 'approved' | 'denied' | 'cancelled' | 'expired';
  /** When a still pending request lapses (checked at use, against the server clock). */
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
  grant_id: string | null;
  created_at: string;
  approvals: { approver_id: string; comment: string | null; created_at: string }[];
}

/** A grant as stored and shown. */
export interface Grant {
  id: string;
  principal_id: string;
  role_id: string;
  project_id: string | null;
  dataset_id: string | null;
  not_before: string;
  expires_at: string;
  status: 'active' | 'revoked';
  break_glass: boolean;
  request_id: string | null;
  justification: string | null;
  created_by: string | null;
  created_at: string;
  revoked_at: string | null;
  revoked_by: string | null;
  revoke_reason: string | null;
  review: ReviewItem | null;
}

/** The after-the-fact review of a break-glass activation. */
export interface ReviewItem {
  id: string;
  status: 'open' | 'closed';
  outcome: 'justified' | 'unjustified' | null;
  finding: string | null;
  closed_by: string | null;
  closed_at: string | null;
  created_at: string;
}

/** A notification to queue with a write. */
export interface Notification {
  event: string;
  data: Record<string, unknown>;
}

/** What a write leaves behind: notifications to queue and audit events to append, both in its transaction. */
export interface Trace {
  notices: Notification[];
  events: AuditEvent[];
}

/** An approval that no longer counts, and why. */
export interface DiscountedApproval {
  approver_id: string;
  reason: string;
}

/** What an approval check reads about approvers (inside the approving transaction, when there is one). */
export interface ApproverFacts {
  /** Standing role assignments (before inheritance). */
  standingRoles(principalId: string): Promise<{ role: string; project: string | null }[]>;
  /** The principal's status; undefined if there is no such principal. */
  status(principalId: string): Promise<string | undefined>;
  /** The project a request's roles are judged in (its project, or its dataset's). */
  projectOf(r: AccessRequest): Promise<string>;
}

/** Which recorded approvals count now: their approvers still hold an approving role for the scope and are active. */
export type ApprovalCheck = (r: AccessRequest, read: ApproverFacts) => Promise<{ counting: string[]; discounted: DiscountedApproval[] }>;

/**
 * How a request's grant is judged when it activates: `check` says which of
 * its approvals are still in force; a grant whose approvals no longer reach
 * the count is revoked with `revoked`'s trace instead of announced.
 */
export interface Activation {
  check: ApprovalCheck;
  revoked: (g: Grant, step: { request: AccessRequest; discounted: DiscountedApproval[] }) => Trace;
}

/** A new grant. */
export interface GrantInsert {
  id: string;
  principalId: string;
  roleId: string;
  projectId: string | null;
  datasetId: string | null;
  notBefore: Date;
  expiresAt: Date;
  breakGlass: boolean;
  requestId: string | null;
  justification: string;
  createdBy: string;
}

/** What an approval did. */
export type ApprovalOutcome =
  | { kind: 'not-pending'; request: AccessRequest }
  | { kind: 'expired'; request: AccessRequest }
  | { kind: 'recorded'; request: AccessRequest; counted: boolean; grant: Grant | null; discounted: DiscountedApproval[] };

/** What an approval did, as its trace sees it. */
export interface ApprovalStep {
  request: AccessRequest;
  grant: Grant | null;
  counted: boolean;
  discounted: DiscountedApproval[];
}

/** Filters for listing requests. */
export interface RequestFilter {
  /** Only requests of this principal. */
  requesterId?: string | undefined;
  status?: AccessRequest['status'] | undefined;
  /** The time `pending` and `expired` are judged at. */
  now: Date;
  limit: number;
  /** Keyset: ids below this one (ids sort by creation time). */
  before?: string | undefined;
}

/** Filters for listing grants. */
export interface GrantFilter {
  principalId?: string | undefined;
  breakGlass?: boolean | undefined;
  reviewStatus?: ReviewItem['status'] | undefined;
  limit: number;
  before?: string | undefined;
}

/** Storage of the workflow. */
export interface GrantStore {
  /** Whether a webhook is configured: notifications are queued only then. */
  readonly notifying: boolean;
  insertRequest(r: Omit<AccessRequest, 'status' | 'decided_by' | 'decided_at' | 'decision_reason' | 'grant_id' | 'approvals'>, trace: (r: AccessRequest) => Trace): Promise<AccessRequest>;
  getRequest(id: string): Promise<AccessRequest | undefined>;
  /** Who received the person's live enrollment secret or the one they enrolled with: they could be that person. */
  secretHoldersOf(principalId: string, at: Date): Promise<string[]>;
  listRequests(f: RequestFilter): Promise<AccessRequest[]>;
  /**
   * Records one approver's approval (once per approver, whatever the
   * concurrency) under a lock on the request; when the approvals that still
   * count (`check`) reach the required count, creates the grant `complete`
   * describes in the same transaction. A request past its expiry is closed
   * as expired instead (with `expired`'s trace) and nothing is recorded.
   */
  approve(
    a: { requestId: string; approverId: string; comment: string | null; at: Date },
    check: ApprovalCheck,
    complete: (r: AccessRequest) => GrantInsert,
    trace: (step: ApprovalStep) => Trace,
    expired: (r: AccessRequest) => Trace,
  ): Promise<ApprovalOutcome>;
  /**
   * Ends a pending, unexpired request (denied or cancelled); undefined if it
   * was not. A request found past its expiry is closed as expired (with
   * `expired`'s trace).
   */
  closeRequest(
    c: { requestId: string; status: 'denied' | 'cancelled'; by: string; reason: string | null; at: Date },
    trace: (r: AccessRequest) => Trace,
    expired: (r: AccessRequest) => Trace,
  ): Promise<AccessRequest | undefined>;
  /** Closes pending requests past their expiry at `now` (each once, across replicas), with their traces. */
  expireRequests(now: Date, expired: (r: AccessRequest) => Trace): Promise<number>;
  getGrant(id: string): Promise<Grant | undefined>;
  listGrants(f: GrantFilter): Promise<Grant[]>;
  /** Revokes an active grant; undefined if it was not active. */
  revokeGrant(r: { grantId: string; by: string | null; reason: string; at: Date }, trace: (g: Grant) => Trace): Promise<Grant | undefined>;
  /** A break-glass grant and its open review item, together. */
  insertBreakGlass(g: GrantInsert, reviewId: string, trace: (g: Grant) => Trace): Promise<Grant>;
  /** Closes an open review item; undefined if there is none open for the grant. */
  closeReview(c: { grantId: string; by: string; outcome: 'justified' | 'unjustified'; finding: string; at: Date }, trace: (g: Grant) => Trace): Promise<Grant | undefined>;
  /**
   * Grants that started or ended by `now` and were not announced yet: marks
   * them announced and queues their notifications (each once, across replicas).
   */
  announceLifecycle(now: Date, note: (g: Grant, what: 'activated' | 'expired') => Notification[], activation: Activation): Promise<{ activated: number; expired: number; revoked: number }>;
  /** Standing role assignments of a principal (before inheritance). */
  standingRoles(principalId: string): Promise<{ role: string; project: string | null }[]>;
  /** Approver facts read outside any transaction (for showing a request). */
  readonly approverFacts: ApproverFacts;
}

/** A delivery claimed for sending. */
export interface ClaimedDelivery {
  id: string;
  event: string;
  payload: Record<string, unknown>;
  attempts: number;
}

/** Storage of the outbox. */
export interface OutboxStore {
  /** Claims up to `limit` due deliveries for `leaseSeconds`, counting an attempt each. */
  claimDue(limit: number, leaseSeconds: number): Promise<ClaimedDelivery[]>;
  delivered(id: string, status: number): Promise<void>;
  /** A failed attempt: retried after `retryInSeconds`, or given up (`failed`) when that is null. */
  failed(id: string, o: { status: number | null; error: string; retryInSeconds: number | null }): Promise<void>;
}
