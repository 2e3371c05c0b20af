/**
 * The approver's inbox: pending access requests the viewer may approve now
 * (GET /v1/access-requests?view=to-approve: someone else's, in a scope where
 * the viewer holds an approving role, not yet approved by them), each with
 * its justification, window and approvals so far; each opens to its history
 * and the approve and deny actions. Security reviewers (`access:review`) can
 * switch to every request, by status. Everyone signed in may open it: the
 * API decides what is in it.
 */
import { can, useMe } from '../../me.ts';
import { navigate } from '../../router.tsx';
import { Select } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import type { PageProps } from '../types.ts';
import { RequestTable } from './RequestTable.tsx';
import { StatusSelect } from './StatusSelect.tsx';
import type { AccessRequest } from './types.ts';

export function Inbox({ query }: PageProps) {
  const me = useMe();
  const reviewer = can(me, 'access:review');
  const view = reviewer && query.get('view') === 'all' ? 'all' : 'to-approve';
  const status = view === 'all' ? (query.get('status') ?? '') : '';
  const set = (o: { view?: string; status?: string }) => navigate('/access/inbox', { view: o.view ?? (view === 'all' ? 'all' : undefined), status: o.status ?? (status || undefined) }, true);
  return (
    <main id="main">
      <h1>Requests to approve</h1>
      <p>Access requests waiting for your decision. Approving or denying asks for a fresh second factor; a request that needs two approvers is granted by the second.</p>
      {reviewer && (
        <form class="filters" aria-label="Which requests" onSubmit={(e) => e.preventDefault()}>
          <Select label="Show" value={view} onValue={(v) => set({ view: v === 'all' ? 'all' : '', status: '' })}>
            <option value="to-approve">Awaiting my decision</option>
            <option value="all">Every request</option>
          </Select>
          {view === 'all' && (
            <StatusSelect value={status} onValue={(v) => set({ status: v })} />
          )}
        </form>
      )}
      <Paged<AccessRequest>
        path="/v1/access-requests"
        query={{ view, status: status || undefined }}
        limit={25}
        label="access requests"
        empty={view === 'to-approve' ? 'Nothing awaits your decision.' : 'No requests.'}
      >
        {(items) => <RequestTable caption={view === 'to-approve' ? 'Awaiting your decision' : 'Access requests'} items={items} showRequester />}
      </Paged>
    </main>
  );
}
