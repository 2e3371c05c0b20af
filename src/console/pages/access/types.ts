/** The shapes of the API answers the access pages read (src/http/routes/access.ts, grants.ts). */
import type { Grant } from '../../api/types.ts';

/** One row of GET /v1/principals/{id}/access or GET /v1/datasets/{id}/access. */
export interface ReachItem {
  principal_id: string;
  dataset_id: string;
  purpose: string;
  columns: string[];
  rules: string[];
  roles: string[];
  basis: 'standing' | 'grant' | 'break-glass';
  grant_ids: string[];
  until: string | null;
  obligations: Record<string, unknown>[];
}

export interface Reach {
  at: string;
  policy_version: string;
  items: ReachItem[];
}

export interface Approval {
  approver_id: string;
  comment: string | null;
  created_at: string;
}

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'cancelled' | 'expired';

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
  status: RequestStatus;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
  grant_id: string | null;
  created_at: string;
  approvals: Approval[];
  /** Names of the principals the request mentions, by id (lists and single reads; not the answer to filing). */
  names?: Record<string, string>;
}

export interface HistoryEntry {
  at: string;
  event: string;
  by: string | null;
  detail: string | null;
}

/** GET /v1/access-requests/{id}: the request with its grant, history and any approvals that no longer count. */
export interface RequestWithHistory extends AccessRequest {
  grant: Grant | null;
  history: HistoryEntry[];
  discounted: { approver_id: string; reason: string }[];
}

