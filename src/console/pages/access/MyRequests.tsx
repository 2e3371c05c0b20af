/**
 * The requester's own view: ask for access, your requests with their
 * status (GET /v1/access-requests?view=mine, filtered by status in the URL),
 * cancel a pending one, and your grants with their expiry (GET
 * /v1/grants?view=mine). Everyone signed in.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { navigate } from '../../router.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { Time } from '../../ui/Time.tsx';
import type { PageProps } from '../types.ts';
import { GRANT_STATE, scopeOf } from './format.ts';
import { RequestForm } from './RequestForm.tsx';
import { requestTitle, RequestTable } from './RequestTable.tsx';
import { StatusSelect } from './StatusSelect.tsx';
import type { Grant } from '../../api/types.ts';
import type { AccessRequest } from './types.ts';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';

export function MyRequests({ query }: PageProps) {
  const status = query.get('status') ?? '';
  // Bumped after a change, so the lists are read again.
  const [version, setVersion] = useState(0);
  const { error, status: note, run, setStatus: setNote, setError } = useAction();

  const cancel = (r: AccessRequest) =>
    run(async () => {
      await api('POST', `/v1/access-requests/${encodeURIComponent(r.id)}/cancel`);
      setVersion((v) => v + 1);
      return `Request for ${requestTitle(r)} cancelled.`;
    });

  return (
    <main id="main">
      <h1>Your access requests</h1>
      <section aria-labelledby="ask">
        <h2 id="ask">Ask for access</h2>
        <RequestForm
          onFiled={(r) => {
            setError(undefined);
            setNote(`Request for ${requestTitle(r)} filed: pending, ${r.approvals_required} ${r.approvals_required === 1 ? 'approval' : 'approvals'} needed.`);
            setVersion((v) => v + 1);
          }}
        />
      </section>
      <Outcome status={note} error={error} />

      <section aria-labelledby="mine">
        <h2 id="mine">Your requests</h2>
        <form class="filters" aria-label="Filter your requests" onSubmit={(e) => e.preventDefault()}>
          <StatusSelect value={status} onValue={(v) => navigate('/access/requests', { status: v || undefined }, true)} />
          <button type="button" class="secondary" onClick={() => setVersion((v) => v + 1)}>
            Refresh
          </button>
        </form>
        <Paged<AccessRequest> key={`r${version}`} path="/v1/access-requests" query={{ view: 'mine', status: status || undefined }} limit={25} label="your requests" empty="No requests.">
          {(items) => (
            <RequestTable
              caption="Your requests"
              items={items}
              showRequester={false}
              actions={(r) =>
                r.status === 'pending' ? (
                  <button type="button" class="secondary" onClick={() => void cancel(r)} aria-label={`Cancel request for ${requestTitle(r)}`}>
                    Cancel
                  </button>
                ) : null
              }
            />
          )}
        </Paged>
      </section>

      <section aria-labelledby="grants">
        <h2 id="grants">Your grants</h2>
        <Paged<Grant> key={`g${version}`} path="/v1/grants" query={{ view: 'mine' }} limit={25} label="your grants" empty="No grants.">
          {(items) => (
            <Table caption="Your grants, newest first" head={['Role', 'Where', 'From', 'Until', 'State']}>
              {items.map((g) => (
                <tr key={g.id}>
                  <th scope="row">
                    {g.role_id}
                    {g.break_glass && <span class="badge"> break-glass</span>}
                  </th>
                  <td>{scopeOf(g)}</td>
                  <td>
                    <Time value={g.not_before} />
                  </td>
                  <td>
                    <Time value={g.expires_at} />
                  </td>
                  <td>
                    {GRANT_STATE[g.state]}
                    {g.revoke_reason && <span class="muted">: {g.revoke_reason}</span>}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Paged>
      </section>
    </main>
  );
}
