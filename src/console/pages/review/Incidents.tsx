/**
 * Incidents (`GET /v1/incidents`, `audit:read`): each with its breach
 * notification deadline (the 60th calendar day after discovery, 45 CFR
 * §164.404(b)) and the days left, counted by the server in the incident's
 * time zone. Each opens its page.
 */
import { Link } from '../../router.tsx';
import { Select } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { Time } from '../../ui/Time.tsx';
import type { PageProps } from '../types.ts';
import { useFilters } from '../../ui/filters.ts';
import { Table } from '../../ui/Table.tsx';

export interface Incident {
  id: string;
  title: string;
  description: string;
  status: 'open' | 'closed';
  discovered_at: string;
  time_zone: string;
  discovery_date: string;
  deadline_date: string;
  deadline_at: string;
  days_left: number | null;
  overdue: boolean;
  window_from: string;
  window_to: string;
  principal_ids: string[];
  dataset_ids: string[];
  opened_by: string;
  created_at: string;
  closed_at: string | null;
  closed_by: string | null;
  determination: 'breach' | 'not_breach' | null;
  assessment: { nature_and_extent: string; unauthorized_person: string; acquired_or_viewed: string; mitigation: string; low_probability_of_compromise: boolean } | null;
}

/** Days left on the clock, as words. */
export function daysLeft(i: Incident): string {
  if (i.status === 'closed' || i.days_left === null) return 'Closed';
  if (i.overdue || i.days_left < 0) return `Overdue by ${-(i.days_left ?? 0)} day${i.days_left === -1 ? '' : 's'}`;
  if (i.days_left === 0) return 'Last day';
  return `${i.days_left} day${i.days_left === 1 ? '' : 's'} left`;
}

const PATH = '/incidents';

export function Incidents({ query }: PageProps) {
  const f = useFilters(PATH, query, ['status']);
  return (
    <main id="main">
      <h1>Incidents</h1>
      <form class="filters" aria-label="Incident filter" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Status"
          value={f.values.status ?? ''}
          onValue={(v) => {
            f.set('status')(v);
            f.apply({ status: v });
          }}
        >
          <option value="">All</option>
          <option value="open">Open</option>
          <option value="closed">Closed</option>
        </Select>
      </form>
      <Paged<Incident> path="/v1/incidents" query={f.applied} label="incidents" empty="No incident.">
        {(items) => (
          <Table caption="Incidents, newest first" head={['Incident', 'Discovered', 'Notice deadline', 'Days left', 'Status']}>
            {items.map((i) => (
              <tr key={i.id}>
                <td>
                  <Link to={`${PATH}/${i.id}`}>{i.title}</Link>
                </td>
                <td>
                  <Time value={i.discovered_at} />
                </td>
                <td>
                  {i.deadline_date} <span class="muted">({i.time_zone})</span>
                </td>
                <td class={i.status === 'open' && (i.overdue || (i.days_left ?? 99) <= 7) ? 'deny' : undefined}>{daysLeft(i)}</td>
                <td>{i.status === 'closed' ? `Closed: ${i.determination === 'breach' ? 'breach' : 'not a breach'}` : 'Open'}</td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
    </main>
  );
}
