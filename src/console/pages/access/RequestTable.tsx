/** A page of access requests as a table: who asked for which role where, for how long, why, and how far the approvals are. */
import type { ComponentChildren } from 'preact';
import { can, useMe } from '../../me.ts';
import { Link } from '../../router.tsx';
import { Time } from '../../ui/Time.tsx';
import { duration, scopeOf, STATUS } from './format.ts';
import { nameOf, usePrincipals } from './lookups.ts';
import type { AccessRequest } from './types.ts';
import { Table } from '../../ui/Table.tsx';

/** "data-scientist in project onc": the link's name, what a person recognises a request by. */
export const requestTitle = (r: AccessRequest) => `${r.role_id} in ${scopeOf(r)}`;

export function RequestTable(props: { caption: string; items: AccessRequest[]; showRequester: boolean; actions?: (r: AccessRequest) => ComponentChildren }) {
  const me = useMe();
  // Requests name their requester; the catalog is asked only for one the answer did not name.
  const unnamed = props.showRequester ? props.items.filter((r) => !r.names?.[r.requester_id]).map((r) => r.requester_id) : [];
  const known = usePrincipals(unnamed, can(me, 'catalog:read'));
  return (
    <Table caption={props.caption} head={['Request', props.showRequester && 'Requested by', 'Filed', 'For', 'Justification', 'Approvals', 'Status', props.actions && '']}>
      {props.items.map((r) => (
        <tr key={r.id}>
          <th scope="row">
            <Link to={`/access/requests/${r.id}`}>{requestTitle(r)}</Link>
          </th>
          {props.showRequester && <td>{nameOf(r.requester_id, known, me.principal_id, r.names)}</td>}
          <td>
            <Time value={r.created_at} />
          </td>
          <td>
            {duration(r.duration_seconds)}
            <br />
            <span class="muted">{r.starts_at ? <>from <Time value={r.starts_at} /></> : 'from approval'}</span>
          </td>
          <td class="justification">{r.justification}</td>
          <td>
            {r.approvals.length} of {r.approvals_required}
          </td>
          <td>
            {STATUS[r.status]}
            {r.status === 'pending' && (
              <>
                <br />
                <span class="muted">
                  lapses <Time value={r.expires_at} />
                </span>
              </>
            )}
          </td>
          {props.actions && <td>{props.actions(r)}</td>}
        </tr>
      ))}
    </Table>
  );
}
