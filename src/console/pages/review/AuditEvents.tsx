/**
 * Audit event search (`GET /v1/audit-events`, `audit:read`): time range,
 * actor by name, subject id, event type, outcome, or one event by id (the
 * links from an alert's evidence). The filters live in the URL.
 */
import { useId } from 'preact/hooks';
import { navigate } from '../../router.tsx';
import { Field, Select } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { Empty, ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { useFilters } from '../../ui/filters.ts';
import { PrincipalName } from '../../ui/principals.tsx';
import { resolvePrincipal, useNameSuggestions, type Resolved } from './common.tsx';
import { Table } from '../../ui/Table.tsx';
import { FilterForm, PeriodFields } from '../../ui/FilterForm.tsx';
import { Fact, Facts } from '../../ui/Facts.tsx';

interface AuditEvent {
  id: string;
  at: string;
  type: string;
  outcome: 'success' | 'failure' | 'info';
  actor_id: string | null;
  subject_id: string | null;
  source_ip: string | null;
  request_id: string | null;
  details: unknown;
}

const KEYS = ['from', 'to', 'actor', 'subject', 'type', 'outcome', 'event'] as const;
const PATH = '/audit-events';

export function AuditEvents({ query }: PageProps) {
  const f = useFilters(PATH, query, KEYS);
  const listId = useId();
  const suggestions = useNameSuggestions(f.values.actor ?? '');
  const { actor: name, ...rest } = f.applied;
  const who = useLoad<Resolved | undefined>((signal) => (name ? resolvePrincipal(name, signal) : Promise.resolve(undefined)), [name]);

  return (
    <main id="main">
      <h1>Audit events</h1>
      <FilterForm label="Audit event filters" filters={f}>
        <PeriodFields filters={f} />
        <Field label="Actor name" list={listId} autocomplete="off" value={f.values.actor ?? ''} onValue={f.set('actor')} />
        <datalist id={listId}>
          {suggestions.map((p) => (
            <option key={p.id} value={p.name} />
          ))}
        </datalist>
        <Field label="Subject id" value={f.values.subject ?? ''} onValue={f.set('subject')} />
        <Field label="Event type" hint="exactly, e.g. login.success" value={f.values.type ?? ''} onValue={f.set('type')} />
        <Select label="Outcome" value={f.values.outcome ?? ''} onValue={f.set('outcome')}>
          <option value="">Any</option>
          <option value="success">Success</option>
          <option value="failure">Failure</option>
          <option value="info">Info</option>
        </Select>
        <Field label="Event id" value={f.values.event ?? ''} onValue={f.set('event')} />
      </FilterForm>
      {who.error ? (
        <ErrorNote error={who.error} onRetry={who.reload} />
      ) : name && (!who.data || who.loading) ? (
        <Loading label="Finding the actor…" />
      ) : who.data && 'none' in who.data ? (
        <Empty>No principal is named “{name}”.</Empty>
      ) : who.data && 'choices' in who.data ? (
        <section aria-labelledby="choose">
          <h2 id="choose">Which actor?</h2>
          <ul>
            {who.data.choices.map((p) => (
              <li key={p.id}>
                <button type="button" class="link" onClick={() => navigate(PATH, { ...f.applied, actor: p.name }, true)}>
                  {p.name}
                </button>
              </li>
            ))}
          </ul>
        </section>
      ) : (
        <Paged<AuditEvent>
          path="/v1/audit-events"
          query={{ ...rest, actor: name && who.data && 'principal' in who.data ? who.data.principal.id : undefined }}
          label="audit events"
          empty="No audit event matches these filters."
        >
          {(items) => (
            <Table caption="Audit events, newest first" head={['When', 'Type', 'Outcome', 'Actor', 'Subject', 'Details']}>
              {items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <Time value={e.at} />
                  </td>
                  <td>
                    <code>{e.type}</code>
                  </td>
                  <td class={e.outcome === 'failure' ? 'deny' : undefined}>{e.outcome}</td>
                  <td>
                    <PrincipalName id={e.actor_id} />
                  </td>
                  <td>{e.subject_id ? <code>{e.subject_id}</code> : '—'}</td>
                  <td>
                    <details>
                      <summary>Details</summary>
                      <Facts>
                        <Fact term="Event id">
                          <code>{e.id}</code>
                        </Fact>
                        <Fact term="Source address">{e.source_ip ?? '—'}</Fact>
                        <Fact term="Request id">{e.request_id ?? '—'}</Fact>
                      </Facts>
                      <pre>{JSON.stringify(e.details, null, 2)}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Paged>
      )}
    </main>
  );
}
