/** A simulation's report: the totals, the flips by rule, principal and dataset, and (for holders of audit:read) examples. */
import type { ComponentChildren } from 'preact';
import { Link } from '../../router.tsx';
import { Time } from '../../ui/Time.tsx';
import { PrincipalName } from '../../ui/principals.tsx';
import type { FlipGroup, Simulation } from './types.ts';
import { Table } from '../../ui/Table.tsx';

function Flips({ caption, head, groups, cell }: { caption: string; head: string; groups: FlipGroup[]; cell: (key: string) => ComponentChildren }) {
  if (groups.length === 0) return null;
  return (
    <Table caption={caption} head={[head, 'Allow → deny', 'Deny → allow']}>
      {groups.map((g) => (
        <tr key={g.key}>
          <th scope="row">{cell(g.key)}</th>
          <td>{g.allow_to_deny}</td>
          <td>{g.deny_to_allow}</td>
        </tr>
      ))}
    </Table>
  );
}

export function SimulationReport({ report: r }: { report: Simulation }) {
  const flips = r.flips.allow_to_deny + r.flips.deny_to_allow;
  return (
    <div aria-live="polite">
      <p>
        Replayed {r.replayed} logged request{r.replayed === 1 ? '' : 's'} from <Time value={r.from} /> to <Time value={r.to} />
        {r.truncated ? ' (the range held more; the first ones were replayed)' : ''}: <strong>{r.flips.allow_to_deny} allow → deny</strong>, <strong>{r.flips.deny_to_allow} deny → allow</strong>, {r.unchanged} unchanged
        {r.skipped ? `, ${r.skipped} skipped (principal or dataset gone)` : ''}.
      </p>
      {flips === 0 ? (
        <p class="state empty">No decision would change.</p>
      ) : (
        <>
          <Flips caption="Flips by rule" head="Rule" groups={r.by_rule} cell={(k) => <code>{k}</code>} />
          <Flips caption="Flips by principal" head="Principal" groups={r.by_principal} cell={(k) => <PrincipalName id={k} link />} />
          <Flips caption="Flips by dataset" head="Dataset" groups={r.by_dataset} cell={(k) => <Link to={`/admin/datasets/${k}`}>{k}</Link>} />
        </>
      )}
      {r.examples_withheld ? (
        <p class="muted">Examples of logged requests are shown only to holders of audit:read.</p>
      ) : (
        r.examples.length > 0 && (
          <Table caption="Examples of decisions that would flip" head={['Logged', 'Principal', 'Dataset', 'Purpose', 'Live', 'Draft']}>
            {r.examples.map((e) => (
              <tr key={e.decision_id}>
                <td>
                  <Time value={e.at} />
                </td>
                <td>
                  <PrincipalName id={e.principal_id} link />
                </td>
                <td>{e.dataset_id}</td>
                <td>{e.purpose}</td>
                <td>
                  {e.live.effect}
                  {e.live.rules.length ? ` (${e.live.rules.join(', ')})` : ''}
                </td>
                <td>
                  {e.candidate.effect}
                  {e.candidate.rules.length ? ` (${e.candidate.rules.join(', ')})` : ''}
                  {e.candidate.reasons.length ? `: ${e.candidate.reasons.join('; ')}` : ''}
                </td>
              </tr>
            ))}
          </Table>
        )
      )}
    </div>
  );
}
