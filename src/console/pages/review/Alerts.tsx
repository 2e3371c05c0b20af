/**
 * The alerts inbox (`GET /v1/alerts`, `audit:read`): what the detectors
 * raised, filtered by status, severity, detector and subject (in the URL),
 * kept current by the alert stream (`GET /v1/alerts/stream`). Each alert
 * opens its page, where it is acknowledged, assigned and resolved.
 */
import { useState } from 'preact/hooks';
import { useMe } from '../../me.ts';
import { Link } from '../../router.tsx';
import { Field, Select } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { Time } from '../../ui/Time.tsx';
import type { PageProps } from '../types.ts';
import { useAlertStream } from './alertStream.ts';
import { useFilters } from '../../ui/filters.ts';
import { PrincipalName } from '../../ui/principals.tsx';
import { Table } from '../../ui/Table.tsx';
import { FilterForm } from '../../ui/FilterForm.tsx';

/** The stream's state, said once (a polite live region). */
export function LiveNote({ state }: { state: 'connecting' | 'live' | 'offline' }) {
  return (
    <p class="muted" role="status">
      {state === 'live' ? 'Live: changes appear as they happen.' : state === 'offline' ? 'Live updates interrupted; reconnecting…' : 'Connecting to live updates…'}
    </p>
  );
}

export interface Alert {
  id: string;
  detector: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  subject: string;
  title: string;
  details: Record<string, unknown>;
  status: 'open' | 'acknowledged' | 'resolved';
  assignee_id: string | null;
  assigned_at: string | null;
  first_at: string;
  last_at: string;
  occurrences: number;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
  finding: string | null;
}

const PATH = '/alerts';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An alert's subject: a principal by name when it is one, else the chain's or dataset's id. */
export function Subject({ value }: { value: string }) {
  return UUID.test(value) ? <PrincipalName id={value} /> : <code>{value}</code>;
}

export function Alerts({ query }: PageProps) {
  const me = useMe();
  const f = useFilters(PATH, query, ['status', 'severity', 'detector', 'subject', 'assignee']);
  // Any change to any alert reloads the list (its first page): what changed may now match the filters, or no longer.
  const [version, setVersion] = useState(0);
  const live = useAlertStream(() => setVersion((v) => v + 1));
  return (
    <main id="main">
      <h1>Alerts</h1>
      <LiveNote state={live} />
      <FilterForm label="Alert filters" filters={f} submit="Filter">
        <Select label="Status" value={f.values.status ?? ''} onValue={f.set('status')}>
          <option value="">Any</option>
          <option value="open">Open</option>
          <option value="acknowledged">Acknowledged</option>
          <option value="resolved">Resolved</option>
        </Select>
        <Select label="Severity" value={f.values.severity ?? ''} onValue={f.set('severity')}>
          <option value="">Any</option>
          <option value="critical">Critical</option>
          <option value="high">High</option>
          <option value="medium">Medium</option>
          <option value="low">Low</option>
        </Select>
        <Field label="Detector" value={f.values.detector ?? ''} onValue={f.set('detector')} />
        <Field label="Subject" hint="a principal, chain or dataset id" value={f.values.subject ?? ''} onValue={f.set('subject')} />
        <Select label="Assigned" value={f.values.assignee ?? ''} onValue={f.set('assignee')}>
          <option value="">To anyone or no one</option>
          <option value={me.principal_id}>To me</option>
        </Select>
      </FilterForm>
      <Paged<Alert> key={version} path="/v1/alerts" query={f.applied} label="alerts" empty="No alert matches these filters.">
        {(items) => (
          <Table caption="Alerts, newest first" head={['Severity', 'Alert', 'Subject', 'Status', 'Assigned to', 'First seen', 'Last seen', 'Times']}>
            {items.map((a) => (
              <tr key={a.id}>
                <td class={`sev-${a.severity}`}>{a.severity}</td>
                <td>
                  <Link to={`${PATH}/${a.id}`}>{a.title}</Link> <span class="muted">{a.detector}</span>
                </td>
                <td>
                  <Subject value={a.subject} />
                </td>
                <td>{a.status}</td>
                <td>{a.assignee_id ? <PrincipalName id={a.assignee_id} /> : '—'}</td>
                <td>
                  <Time value={a.first_at} />
                </td>
                <td>
                  <Time value={a.last_at} />
                </td>
                <td>{a.occurrences}</td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
    </main>
  );
}
