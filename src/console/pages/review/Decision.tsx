/**
 * One decision explained (`GET /v1/decision-logs/{id}`, `audit:read`, an
 * audited read): the rules that decided, the requirements that were not met,
 * the columns granted and refused, the principal and their sponsor, the
 * grants it relied on (each read with `GET /v1/grants/{id}`), break-glass,
 * the policy version, and the token and job it led to.
 */
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { PrincipalName } from '../../ui/principals.tsx';
import { Items, Json, yesNo } from './common.tsx';
import type { DecisionRecord } from './Decisions.tsx';
import type { Grant } from '../../api/types.ts';
import { Table } from '../../ui/Table.tsx';
import { Fact, Facts } from '../../ui/Facts.tsx';

export function Decision({ params }: PageProps) {
  const d = useLoad<DecisionRecord>((signal) => api('GET', `/v1/decision-logs/${encodeURIComponent(params.id ?? '')}`, { signal }), [params.id]);
  if (d.error) {
    return (
      <main id="main">
        <h1>Decision</h1>
        <ErrorNote error={d.error} onRetry={d.reload} />
      </main>
    );
  }
  if (!d.data) {
    return (
      <main id="main">
        <h1>Decision</h1>
        <Loading />
      </main>
    );
  }
  return <Explanation d={d.data} />;
}

/** Every requested column with what became of it; "*" when all were asked for. */
function columnsOf(d: DecisionRecord): { name: string; granted: boolean }[] {
  const out = d.granted_columns.map((name) => ({ name, granted: true }));
  for (const name of d.denied_columns) if (!d.granted_columns.includes(name)) out.push({ name, granted: false });
  return out;
}

function Explanation({ d }: { d: DecisionRecord }) {
  const allow = d.effect === 'allow';
  const requested = d.input?.columns;
  const columns = columnsOf(d);
  return (
    <main id="main">
      <p>
        <Link to="/decisions">Decision log</Link>
      </p>
      <h1>
        {allow ? 'Allowed' : 'Denied'}: {d.dataset_id} for <PrincipalName id={d.principal_id} />
      </h1>
      <Facts>
        <Fact term="Decision id">
          <code>{d.id}</code>
        </Fact>
        <Fact term="When">
          <Time value={d.at} />
        </Fact>
        <Fact term="Effect" class={d.effect}>{allow ? 'Allow' : 'Deny'}</Fact>
        <Fact term="Principal">
          <PrincipalName id={d.principal_id} />
        </Fact>
        <Fact term="Sponsor">{d.sponsor_id ? <PrincipalName id={d.sponsor_id} /> : 'None (not a sponsored service)'}</Fact>
        <Fact term="Dataset">
          {d.dataset_id}
          {d.input?.dataset?.classification && <span class="muted"> ({d.input.dataset.classification} at the time)</span>}{' '}
          <Link to="/decisions" query={{ dataset: d.dataset_id }}>
            Decisions on this dataset
          </Link>
        </Fact>
        <Fact term="Project">{d.project_id ?? '—'}</Fact>
        <Fact term="Action and purpose">
          {d.action}, for {d.purpose}
        </Fact>
        <Fact term="Break-glass">{yesNo(d.break_glass)}</Fact>
        <Fact term="Policy version">
          <code>{d.policy_version}</code>
        </Fact>
        <Fact term="Asked by">{d.caller_id ? <PrincipalName id={d.caller_id} /> : '—'}</Fact>
        <Fact term="Request id">{d.request_id ? <code>{d.request_id}</code> : '—'}</Fact>
      </Facts>

      <section aria-labelledby="rules">
        <h2 id="rules">{allow ? 'Rules that granted it' : 'Rules that matched'}</h2>
        <Items items={d.rules} none={allow ? 'None' : 'No rule allowed it (deny by default).'} render={(r) => <code>{r}</code>} />
      </section>

      <section aria-labelledby="reasons">
        <h2 id="reasons">Unmet requirements</h2>
        <Items items={d.reasons} none={allow ? 'None: every requirement was met.' : 'None recorded.'} />
      </section>

      <section aria-labelledby="columns">
        <h2 id="columns">Columns</h2>
        <p>Requested: {requested === '*' ? 'all columns (*)' : Array.isArray(requested) ? requested.join(', ') || 'none' : '—'}</p>
        {columns.length ? (
          <Table caption="Columns granted and refused" head={['Column', 'Outcome']}>
            {columns.map((c) => (
              <tr key={c.name}>
                <td>
                  <code>{c.name}</code>
                </td>
                <td class={c.granted ? (allow ? 'allow' : undefined) : 'deny'}>{c.granted ? (allow ? 'Granted' : 'Would have been granted') : 'Refused'}</td>
              </tr>
            ))}
          </Table>
        ) : (
          <p class="muted">No columns were granted or refused.</p>
        )}
      </section>

      <section aria-labelledby="grants">
        <h2 id="grants">Grants relied on</h2>
        {d.grant_ids.length ? d.grant_ids.map((id) => <GrantFacts key={id} id={id} />) : <p class="muted">None: standing roles only.</p>}
      </section>

      <section aria-labelledby="token">
        <h2 id="token">Token and job</h2>
        {d.token_jti ? (
          <Facts>
            <Fact term="Token (jti)">
              <code>{d.token_jti}</code>
            </Fact>
            <Fact term="Token expires">
              <Time value={d.token_expires_at} />
            </Fact>
            <Fact term="Job">{d.job?.job_id ? <Link to="/decisions" query={{ job: d.job.job_id }}>{d.job.job_id}</Link> : '—'}</Fact>
            {d.job?.image_digest && (
              <>
                <Fact term="Job image">
                  <code>{d.job.image_digest}</code>
                </Fact>
              </>
            )}
          </Facts>
        ) : (
          <p class="muted">No token was issued on this decision.</p>
        )}
      </section>

      <section aria-labelledby="obligations">
        <h2 id="obligations">Obligations</h2>
        {Array.isArray(d.obligations) && d.obligations.length ? <Json value={d.obligations} /> : <p class="muted">None</p>}
      </section>

      <details>
        <summary>The request as decided (input facts)</summary>
        <Json value={d.input} />
      </details>
      <p class="muted">Decided in {(d.latency_us / 1000).toFixed(2)} ms.</p>
    </main>
  );
}

function GrantFacts({ id }: { id: string }) {
  const g = useLoad<Grant>((signal) => api('GET', `/v1/grants/${encodeURIComponent(id)}`, { signal }), [id]);
  return (
    <div class="grant">
      <h3>
        Grant <code>{id}</code>
      </h3>
      {g.error ? (
        <ErrorNote error={g.error} />
      ) : !g.data ? (
        <Loading />
      ) : (
        <Facts>
          <Fact term="Role">{g.data.role_id}</Fact>
          <Fact term="Scope">{g.data.dataset_id ? `dataset ${g.data.dataset_id}` : g.data.project_id ? `project ${g.data.project_id}` : 'everywhere'}</Fact>
          <Fact term="Valid">
            <Time value={g.data.not_before} /> to <Time value={g.data.expires_at} /> ({g.data.state})
          </Fact>
          <Fact term="Kind">{g.data.break_glass ? `Break-glass (review ${g.data.review?.status ?? 'none'})` : 'Just-in-time grant'}</Fact>
          {g.data.justification && <Fact term="Justification">{g.data.justification}</Fact>}
        </Facts>
      )}
      <p>
        <Link to="/decisions" query={{ grant: id }}>
          Every decision that relied on this grant
        </Link>
        {g.data?.break_glass && (
          <>
            {' · '}
            <Link to="/break-glass">Break-glass reviews</Link>
          </>
        )}
      </p>
    </div>
  );
}
