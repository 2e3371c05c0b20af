/**
 * One access request (GET /v1/access-requests/{id}): what was asked, why,
 * the approvals so far (and any that no longer count), the grant it led to,
 * and its history. Seen by its requester, its possible approvers and
 * security reviewers (anyone else gets the API's "not found").
 *
 * While it is pending: someone else may approve (with an optional comment)
 * or deny (with a reason); both need a fresh second factor, which the API
 * client asks for in the step-up dialog. The requester may cancel it. The
 * server decides who may do what; the page shows its answer.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { can, useMe } from '../../me.ts';
import { Link } from '../../router.tsx';
import { TextArea } from '../../ui/Field.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { duration, GRANT_STATE, scopeOf, STATUS } from './format.ts';
import { nameOf, usePrincipals } from './lookups.ts';
import { requestTitle } from './RequestTable.tsx';
import type { RequestWithHistory } from './types.ts';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import { Fact, Facts } from '../../ui/Facts.tsx';

const EVENTS: Record<string, string> = {
  requested: 'Requested',
  approval: 'Approved by one approver',
  approved: 'Granted',
  denied: 'Denied',
  cancelled: 'Cancelled',
  expired: 'Expired',
  activated: 'Grant took effect',
  revoked: 'Grant revoked',
};

export function RequestDetail({ params }: PageProps) {
  const me = useMe();
  const loaded = useLoad<RequestWithHistory>((signal) => api('GET', `/v1/access-requests/${encodeURIComponent(params.id!)}`, { signal }), [params.id]);
  const [shown, setShown] = useState<RequestWithHistory>();
  const r = shown ?? loaded.data;
  // The request names whom it mentions; the catalog is asked only for anyone it did not name.
  const people = r ? [r.requester_id, ...r.approvals.map((a) => a.approver_id), ...r.discounted.map((d) => d.approver_id), ...r.history.map((h) => h.by ?? ''), r.decided_by ?? ''].filter((id) => id && !r.names?.[id]) : [];
  const known = usePrincipals(people, can(me, 'catalog:read'));
  const [comment, setComment] = useState('');
  const [reason, setReason] = useState('');
  const { busy, error, status, run } = useAction();

  if (loaded.error) {
    return (
      <main id="main">
        <h1>Access request</h1>
        <ErrorNote error={loaded.error} onRetry={loaded.reload} />
      </main>
    );
  }
  if (!r) {
    return (
      <main id="main">
        <h1>Access request</h1>
        <Loading />
      </main>
    );
  }
  const who = (id: string | null) => nameOf(id, known, me.principal_id, r.names);
  const mine = r.requester_id === me.principal_id;
  const approvedByMe = r.approvals.some((a) => a.approver_id === me.principal_id);

  const act = async (what: 'approve' | 'deny' | 'cancel', body: unknown, done: (x: RequestWithHistory & { counted?: boolean }) => string) => {
    await run(async () => {
      const x = await api<RequestWithHistory & { counted?: boolean }>('POST', `/v1/access-requests/${encodeURIComponent(r.id)}/${what}`, { body });
      setShown(x);
      return done(x);
    });
  };

  return (
    <main id="main">
      <h1>Access request: {requestTitle(r)}</h1>
      <p>
        <Link to={mine ? '/access/requests' : '/access/inbox'}>{mine ? 'Back to your requests' : 'Back to requests to approve'}</Link>
      </p>
      <Facts>
        <Fact term="Status">
          <strong>{STATUS[r.status]}</strong>
          {r.status === 'pending' && (
            <>
              {' '}
              (lapses <Time value={r.expires_at} />)
            </>
          )}
        </Fact>
        <Fact term="Requested by">{who(r.requester_id)}</Fact>
        <Fact term="Filed">
          <Time value={r.created_at} />
        </Fact>
        <Fact term="Role">{r.role_id}</Fact>
        <Fact term="Where">{scopeOf(r)}</Fact>
        <Fact term="For">
          {duration(r.duration_seconds)}, {r.starts_at ? <>from <Time value={r.starts_at} /></> : 'from approval'}
        </Fact>
        <Fact term="Approvals">
          {r.approvals.length} of {r.approvals_required} needed
        </Fact>
        {r.decision_reason && <Fact term="Reason given">{r.decision_reason}</Fact>}
        {r.grant && (
          <>
            <Fact term="Grant">
              {GRANT_STATE[r.grant.state]}, <Time value={r.grant.not_before} /> until <Time value={r.grant.expires_at} />
            </Fact>
          </>
        )}
      </Facts>

      <h2>Justification</h2>
      <blockquote class="justification">{r.justification}</blockquote>

      <h2>Approvals so far</h2>
      {r.approvals.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <ul aria-label="Approvals">
          {r.approvals.map((a) => (
            <li key={a.approver_id}>
              {who(a.approver_id)}, <Time value={a.created_at} />
              {a.comment ? `: “${a.comment}”` : ''}
            </li>
          ))}
        </ul>
      )}
      {r.discounted.length > 0 && (
        <ul aria-label="Approvals that no longer count" class="error">
          {r.discounted.map((d) => (
            <li key={d.approver_id}>
              {who(d.approver_id)}’s approval no longer counts: {d.reason}
            </li>
          ))}
        </ul>
      )}

      <Table caption="History" head={['When', 'What', 'By', 'Detail']}>
        {r.history.map((h, i) => (
          <tr key={i}>
            <td>
              <Time value={h.at} />
            </td>
            <td>{EVENTS[h.event] ?? h.event}</td>
            <td>{h.by ? who(h.by) : '—'}</td>
            <td>{h.detail ?? ''}</td>
          </tr>
        ))}
      </Table>

      {r.status === 'pending' && !mine && !approvedByMe && (
        <section aria-labelledby="decide">
          <h2 id="decide">Your decision</h2>
          <form
            aria-label="Approve"
            onSubmit={(e) => {
              e.preventDefault();
              void act('approve', comment.trim() ? { comment: comment.trim() } : {}, (x) =>
                x.status === 'approved' ? 'Approved: the grant is in place.' : `Approval recorded: ${x.approvals.length} of ${x.approvals_required}; the request stays pending.`,
              );
            }}
          >
            <TextArea label="Comment (optional)" value={comment} onValue={setComment} rows={2} />
            <button type="submit" disabled={busy}>
              Approve
            </button>
          </form>
          <form
            aria-label="Deny"
            onSubmit={(e) => {
              e.preventDefault();
              void act('deny', { reason: reason.trim() }, () => 'Denied.');
            }}
          >
            <TextArea label="Reason for denying" value={reason} onValue={setReason} rows={2} required />
            <button type="submit" class="danger" disabled={busy || !reason.trim()}>
              Deny
            </button>
          </form>
        </section>
      )}
      {r.status === 'pending' && approvedByMe && <p>You approved this request; it waits for another approver.</p>}
      {r.status === 'pending' && mine && (
        <button type="button" class="secondary" disabled={busy} onClick={() => void act('cancel', undefined, () => 'Request cancelled.')}>
          Cancel this request
        </button>
      )}
      <Outcome status={status} error={error} />
    </main>
  );
}
