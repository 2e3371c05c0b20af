/**
 * One incident (`GET /v1/incidents/{id}`, `audit:read`; the read is audited):
 * its notification deadline and the days left, its linked alerts, and its
 * closing (`POST /v1/incidents/{id}/close`, `incidents:manage` with a fresh
 * second factor): the breach determination with the four-factor risk
 * assessment of 45 CFR §164.402(2).
 */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { can, useMe } from '../../me.ts';
import { Link } from '../../router.tsx';
import { Field, Select, TextArea } from '../../ui/Field.tsx';
import { Empty, ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { Subject } from './Alerts.tsx';
import { PrincipalName } from '../../ui/principals.tsx';
import { daysLeft, type Incident } from './Incidents.tsx';
import { Table } from '../../ui/Table.tsx';
import { Fact, Facts } from '../../ui/Facts.tsx';
import { useAction } from '../../ui/useAction.tsx';

interface LinkedAlert {
  id: string;
  detector: string;
  severity: string;
  subject: string;
  title: string;
  status: string;
  first_at: string;
  last_at: string;
}

const FACTORS = [
  ['nature_and_extent', 'Nature and extent of the PHI involved'],
  ['unauthorized_person', 'The unauthorized person'],
  ['acquired_or_viewed', 'Whether the PHI was acquired or viewed'],
  ['mitigation', 'Mitigation'],
] as const;
type FactorKey = (typeof FACTORS)[number][0];

export function IncidentDetail({ params }: PageProps) {
  const me = useMe();
  const id = params.id ?? '';
  const inc = useLoad<Incident & { alerts: LinkedAlert[] }>((signal) => api('GET', `/v1/incidents/${encodeURIComponent(id)}`, { signal }), [id]);
  if (inc.error) {
    return (
      <main id="main">
        <h1>Incident</h1>
        <ErrorNote error={inc.error} onRetry={inc.reload} />
      </main>
    );
  }
  if (!inc.data) {
    return (
      <main id="main">
        <h1>Incident</h1>
        <Loading />
      </main>
    );
  }
  const i = inc.data;
  return (
    <main id="main">
      <p>
        <Link to="/incidents">Incidents</Link>
      </p>
      <h1>{i.title}</h1>
      <p>{i.description}</p>
      <Facts>
        <Fact term="Status">{i.status === 'open' ? 'Open' : `Closed: ${i.determination === 'breach' ? 'breach' : 'not a breach'}`}</Fact>
        <Fact term="Discovered">
          <Time value={i.discovered_at} /> <span class="muted">({i.discovery_date} in {i.time_zone})</span>
        </Fact>
        <Fact term="Notice deadline">
          {i.deadline_date} <span class="muted">(until <Time value={i.deadline_at} />)</span>
        </Fact>
        <Fact term="Days left" class={i.status === 'open' && (i.overdue || (i.days_left ?? 99) <= 7) ? 'deny' : undefined}>{daysLeft(i)}</Fact>
        <Fact term="Window">
          <Time value={i.window_from} /> to <Time value={i.window_to} />
        </Fact>
        <Fact term="Principals in scope">{i.principal_ids.length ? i.principal_ids.map((p, n) => <span key={p}>{n > 0 && ', '}<PrincipalName id={p} /></span>) : 'All'}</Fact>
        <Fact term="Datasets in scope">{i.dataset_ids.length ? i.dataset_ids.join(', ') : 'All'}</Fact>
        <Fact term="Opened by">
          <PrincipalName id={i.opened_by} />, <Time value={i.created_at} />
        </Fact>
        {i.closed_at && (
          <>
            <Fact term="Closed by">
              <PrincipalName id={i.closed_by} />, <Time value={i.closed_at} />
            </Fact>
          </>
        )}
      </Facts>

      <section aria-labelledby="alerts">
        <h2 id="alerts">Linked alerts</h2>
        {i.alerts.length === 0 ? (
          <Empty>No alert is linked.</Empty>
        ) : (
          <Table caption="Alerts the incident was opened from or linked to" head={['Alert', 'Severity', 'Subject', 'Status', 'First seen']}>
            {i.alerts.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link to={`/alerts/${a.id}`}>{a.title}</Link>
                </td>
                <td>{a.severity}</td>
                <td>
                  <Subject value={a.subject} />
                </td>
                <td>{a.status}</td>
                <td>
                  <Time value={a.first_at} />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </section>

      {i.assessment && (
        <section aria-labelledby="assessment">
          <h2 id="assessment">Risk assessment</h2>
          <dl class="facts">
            {FACTORS.map(([k, label]) => (
              <Fragment key={k}>
                <dt>{label}</dt>
                <dd>{i.assessment![k]}</dd>
              </Fragment>
            ))}
            <dt>Low probability of compromise</dt>
            <dd>{i.assessment.low_probability_of_compromise ? 'Demonstrated' : 'Not demonstrated'}</dd>
          </dl>
        </section>
      )}

      {i.status === 'open' && can(me, 'incidents:manage') && <CloseIncident id={i.id} onClosed={inc.reload} />}
    </main>
  );
}

function CloseIncident({ id, onClosed }: { id: string; onClosed: () => void }) {
  const [determination, setDetermination] = useState<'breach' | 'not_breach'>('not_breach');
  const [factors, setFactors] = useState<Record<FactorKey, string>>({ nature_and_extent: '', unauthorized_person: '', acquired_or_viewed: '', mitigation: '' });
  const [lowProbability, setLowProbability] = useState(false);
  const { busy, error, run } = useAction();

  const submit = async () => {
    await run(async () => {
      const assessment = { ...Object.fromEntries(FACTORS.map(([k]) => [k, factors[k].trim()])), low_probability_of_compromise: lowProbability };
      await api('POST', `/v1/incidents/${encodeURIComponent(id)}/close`, { body: { determination, assessment } });
      onClosed();
    });
  };

  return (
    <section aria-labelledby="close">
      <h2 id="close">Close with a determination</h2>
      <p class="muted">Each factor needs at least 20 characters. Not a breach needs an assessment that demonstrates a low probability of compromise; a breach, one that does not.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Select label="Determination" value={determination} onValue={(v) => setDetermination(v as 'breach' | 'not_breach')}>
          <option value="not_breach">Not a breach</option>
          <option value="breach">Breach</option>
        </Select>
        {FACTORS.map(([k, label]) => (
          <TextArea key={k} label={label} value={factors[k]} onValue={(v) => setFactors((f) => ({ ...f, [k]: v }))} required minLength={20} rows={3} />
        ))}
        <Field label="The assessment demonstrates a low probability that the PHI has been compromised" type="checkbox" checked={lowProbability} onChange={(e) => setLowProbability((e.target as HTMLInputElement).checked)} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" disabled={busy}>
            Close incident
          </button>
        </div>
      </form>
    </section>
  );
}
