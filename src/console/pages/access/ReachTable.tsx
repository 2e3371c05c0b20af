/**
 * Reach rows as a table: for each dataset (or principal) and purpose, the
 * columns readable now, through which roles, rules and grants, and until
 * when. Each row is what a decision for that principal, dataset and purpose
 * grants (GET /v1/principals/{id}/access, GET /v1/datasets/{id}/access).
 */
import { Fragment } from 'preact';
import { can, useMe } from '../../me.ts';
import { Link } from '../../router.tsx';
import { Time } from '../../ui/Time.tsx';
import { BASIS } from './format.ts';
import { nameOf } from './lookups.ts';
import type { Principal } from '../../api/types.ts';
import type { ReachItem } from './types.ts';
import { Table } from '../../ui/Table.tsx';

const obligationText = (o: Record<string, unknown>) => {
  const { type, ...rest } = o;
  const args = Object.entries(rest).map(([k, v]) => `${k} ${String(v)}`);
  return args.length ? `${String(type)} (${args.join(', ')})` : String(type);
};

export function ReachTable(props: {
  caption: string;
  items: ReachItem[];
  /** 'dataset': one principal's rows (the first column names the dataset); 'principal': one dataset's rows. */
  by: 'dataset' | 'principal';
  principals?: Map<string, Principal>;
  /** Identifier columns, marked as such (known on the dataset page). */
  identifiers?: Set<string>;
}) {
  const me = useMe();
  // The dataset and principal pages read anyone's reach: link to them only for those who may.
  const linked = can(me, 'catalog:read') || can(me, 'audit:read');
  return (
    <Table caption={props.caption} head={[props.by === 'dataset' ? 'Dataset' : 'Principal', 'Purpose', 'Columns', 'Through', 'Until', 'Obligations']}>
      {props.items.map((r) => (
        <tr key={`${r.principal_id}/${r.dataset_id}/${r.purpose}`}>
          <th scope="row">
            {!linked ? (
              props.by === 'dataset' ? (
                r.dataset_id
              ) : (
                nameOf(r.principal_id, props.principals ?? new Map(), me.principal_id)
              )
            ) : props.by === 'dataset' ? (
              <Link to="/access/datasets" query={{ dataset: r.dataset_id }}>
                {r.dataset_id}
              </Link>
            ) : (
              <Link to="/access/principals" query={{ principal: r.principal_id }}>
                {nameOf(r.principal_id, props.principals ?? new Map(), me.principal_id)}
              </Link>
            )}
          </th>
          <td>{r.purpose}</td>
          <td>
            {r.columns.map((c, i) => (
              <Fragment key={c}>
                {i > 0 && ', '}
                <code>{c}</code>
                {props.identifiers?.has(c) && <span class="muted"> (identifier)</span>}
              </Fragment>
            ))}
          </td>
          <td>
            <span class={r.basis === 'standing' ? undefined : 'badge'}>{BASIS[r.basis]}</span>
            <br />
            {r.roles.length > 0 && <>role {r.roles.join(', ')}; </>}
            rule {r.rules.join(', ')}
            {r.grant_ids.length > 0 && (
              <>
                <br />
                <span class="muted">
                  grant {r.grant_ids.map((g) => <code key={g}>{g}</code>)}
                </span>
              </>
            )}
          </td>
          <td>{r.until ? <Time value={r.until} /> : 'No end (standing)'}</td>
          <td>{r.obligations.length ? r.obligations.map(obligationText).join('; ') : '—'}</td>
        </tr>
      ))}
    </Table>
  );
}
