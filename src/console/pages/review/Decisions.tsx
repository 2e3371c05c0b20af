/**
 * Decision log search (`GET /v1/decision-logs`, `audit:read`): time range,
 * principal by name (looked up in the catalog: `GET /v1/principals?name=`),
 * dataset, effect, text of a deny reason, purpose, grant, break-glass, and
 * job (a token's jti or the job id its request named). The filters live in
 * the URL; each search is itself an audit event on the server.
 */
import { useId } from 'preact/hooks';
import { Link, navigate } from '../../router.tsx';
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

export interface DecisionRecord {
  id: string;
  at: string;
  request_id: string | null;
  caller_id: string | null;
  principal_id: string;
  sponsor_id: string | null;
  dataset_id: string;
  project_id: string | null;
  action: string;
  purpose: string;
  effect: 'allow' | 'deny';
  rules: string[];
  reasons: string[];
  granted_columns: string[];
  denied_columns: string[];
  obligations: unknown;
  grant_ids: string[];
  break_glass: boolean;
  policy_version: string;
  latency_us: number;
  input: any;
  token_jti: string | null;
  token_expires_at: string | null;
  job: { job_id?: string; image_digest?: string } | null;
}

const KEYS = ['from', 'to', 'principal', 'dataset', 'effect', 'reason', 'purpose', 'grant', 'break_glass', 'job'] as const;
const PATH = '/decisions';

export function Decisions({ query }: PageProps) {
  const f = useFilters(PATH, query, KEYS);
  const listId = useId();
  const suggestions = useNameSuggestions(f.values.principal ?? '');
  const { principal: name, ...rest } = f.applied;
  const who = useLoad<Resolved | undefined>((signal) => (name ? resolvePrincipal(name, signal) : Promise.resolve(undefined)), [name]);

  return (
    <main id="main">
      <h1>Decision log</h1>
      <FilterForm label="Decision filters" filters={f}>
        <PeriodFields filters={f} />
        <Field label="Principal name" list={listId} autocomplete="off" value={f.values.principal ?? ''} onValue={f.set('principal')} />
        <datalist id={listId}>
          {suggestions.map((p) => (
            <option key={p.id} value={p.name}>
              {p.display_name || p.kind}
            </option>
          ))}
        </datalist>
        <Field label="Dataset" value={f.values.dataset ?? ''} onValue={f.set('dataset')} />
        <Select label="Effect" value={f.values.effect ?? ''} onValue={f.set('effect')}>
          <option value="">Any</option>
          <option value="allow">Allow</option>
          <option value="deny">Deny</option>
        </Select>
        <Field label="Deny reason contains" value={f.values.reason ?? ''} onValue={f.set('reason')} />
        <Field label="Purpose" value={f.values.purpose ?? ''} onValue={f.set('purpose')} />
        <Field label="Grant id" value={f.values.grant ?? ''} onValue={f.set('grant')} />
        <Select label="Break-glass" value={f.values.break_glass ?? ''} onValue={f.set('break_glass')}>
          <option value="">Either</option>
          <option value="true">Break-glass only</option>
          <option value="false">No break-glass</option>
        </Select>
        <Field label="Job or token" hint="job id or token jti" value={f.values.job ?? ''} onValue={f.set('job')} />
      </FilterForm>
      {who.error ? (
        <ErrorNote error={who.error} onRetry={who.reload} />
      ) : name && (!who.data || who.loading) ? (
        <Loading label="Finding the principal…" />
      ) : who.data && 'none' in who.data ? (
        <Empty>No principal is named “{name}”.</Empty>
      ) : who.data && 'choices' in who.data ? (
        <section aria-labelledby="choose">
          <h2 id="choose">Which principal?</h2>
          <p>Several names start with “{name}”.</p>
          <ul>
            {who.data.choices.map((p) => (
              <li key={p.id}>
                <button type="button" class="link" onClick={() => navigate(PATH, { ...f.applied, principal: p.name }, true)}>
                  {p.name}
                </button>{' '}
                <span class="muted">{p.display_name || p.kind}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : (
        <Paged<DecisionRecord>
          path="/v1/decision-logs"
          query={{ ...rest, principal: name && who.data && 'principal' in who.data ? who.data.principal.id : undefined }}
          label="decisions"
          empty="No decision matches these filters."
        >
          {(items) => <DecisionTable items={items} />}
        </Paged>
      )}
    </main>
  );
}

export function DecisionTable({ items, caption = 'Decisions, newest first' }: { items: DecisionRecord[]; caption?: string }) {
  return (
    <Table caption={caption} head={['When', 'Principal', 'Dataset', 'Purpose', 'Effect', 'Rules or reasons', 'Explanation']}>
      {items.map((d) => (
        <tr key={d.id}>
          <td>
            <Time value={d.at} />
          </td>
          <td>
            <PrincipalName id={d.principal_id} />
          </td>
          <td>{d.dataset_id}</td>
          <td>
            {d.purpose}
            {d.break_glass && <span class="badge">break-glass</span>}
          </td>
          <td class={d.effect}>{d.effect === 'allow' ? 'Allow' : 'Deny'}</td>
          <td>{d.effect === 'deny' && d.reasons.length ? d.reasons.join('; ') : d.rules.join(', ') || '—'}</td>
          <td>
            <Link to={`${PATH}/${d.id}`}>Explain</Link>
          </td>
        </tr>
      ))}
    </Table>
  );
}
