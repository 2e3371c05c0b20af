/**
 * The trace of a pending access request that lapsed: an
 * `access_request.expired` audit event and notification, written in the
 * transaction that closes it. A request is found lapsed when someone acts on
 * it past its expiry (checked at use, against the server clock) or by the
 * notifier's sweep, whichever comes first; it is closed exactly once.
 */
import { requestNotice } from './notices.ts';
import type { AccessRequest, Trace } from './store.ts';

/** What closing a lapsed request leaves behind. */
export function expiryTrace(r: AccessRequest): Trace {
  return {
    notices: [requestNotice('access_request.expired', r)],
    events: [
      {
        type: 'access_request.expired',
        outcome: 'info',
        actorId: null,
        subjectId: r.requester_id,
        details: { request_id: r.id, role: r.role_id, project: r.project_id, dataset: r.dataset_id, expires_at: r.expires_at, approvals: r.approvals.length, approvals_required: r.approvals_required },
      },
    ],
  };
}
