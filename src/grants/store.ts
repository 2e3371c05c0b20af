/**
 * What the just-in-time workflow stores: access requests and their
 * approvals, grants, break-glass review items, and the notification outbox.
 * Each write is one transaction that also queues its notifications, so a
 * state change and its announcement are never separated.
 */

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
  status: 'pending' | 'approved' | 'denied' | 'cancelled';
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
  | { kind: 'recorded'; request: AccessRequest; counted: boolean; grant: Grant | null };

/** Filters for listing requests. */
export interface RequestFilter {
  /** Only requests of this principal. */
  requesterId?: string | undefined;
  status?: AccessRequest['status'] | undefined;
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
  insertRequest(r: Omit<AccessRequest, 'status' | 'decided_by' | 'decided_at' | 'decision_reason' | 'grant_id' | 'approvals'>, note: (r: AccessRequest) => Notification[]): Promise<AccessRequest>;
  getRequest(id: string): Promise<AccessRequest | undefined>;
  listRequests(f: RequestFilter): Promise<AccessRequest[]>;
  /**
   * Records one approver's approval (once per approver, whatever the
   * concurrency) under a lock on the request; when the approvals reach the
   * required count, creates the grant `complete` describes in the same transaction.
   */
  approve(
    a: { requestId: string; approverId: string; comment: string | null; at: Date },
    complete: (r: AccessRequest) => GrantInsert,
    note: (r: AccessRequest, grant: Grant | null, counted: boolean) => Notification[],
  ): Promise<ApprovalOutcome>;
  /** Ends a pending request (denied or cancelled); undefined if it was not pending. */
  closeRequest(
    c: { requestId: string; status: 'denied' | 'cancelled'; by: string; reason: string | null; at: Date },
    note: (r: AccessRequest) => Notification[],
  ): Promise<AccessRequest | undefined>;
  getGrant(id: string): Promise<Grant | undefined>;
  listGrants(f: GrantFilter): Promise<Grant[]>;
  /** Revokes an active grant; undefined if it was not active. */
  revokeGrant(r: { grantId: string; by: string; reason: string; at: Date }, note: (g: Grant) => Notification[]): Promise<Grant | undefined>;
  /** A break-glass grant and its open review item, together. */
  insertBreakGlass(g: GrantInsert, reviewId: string, note: (g: Grant) => Notification[]): Promise<Grant>;
  /** Closes an open review item; undefined if there is none open for the grant. */
  closeReview(c: { grantId: string; by: string; outcome: 'justified' | 'unjustified'; finding: string; at: Date }, note: (g: Grant) => Notification[]): Promise<Grant | undefined>;
  /**
   * Grants that started or ended by `now` and were not announced yet: marks
   * them announced and queues their notifications (each once, across replicas).
   */
  announceLifecycle(now: Date, note: (g: Grant, what: 'activated' | 'expired') => Notification[]): Promise<{ activated: number; expired: number }>;
  /** Standing role assignments of a principal (before inheritance). */
  standingRoles(principalId: string): Promise<{ role: string; project: string | null }[]>;
}
