/**
 * One alert (`GET /v1/alerts/{id}`, `audit:read`) with its evidence, each
 * record linked to its decision or audit event; and its work
 * (`alerts:manage`): acknowledge, assign to a reviewer found by name, and
 * resolve with a finding (a fresh second factor: the step-up dialog).
 * Nobody works an alert about themselves; the API's refusal is shown.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { can, useMe } from '../../me.ts';
import { Link } from '../../router.tsx';
import { Field, TextArea } from '../../ui/Field.tsx';
import { Empty, ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import type { Alert } from './Alerts.tsx';
import { LiveNote, Subject } from './Alerts.tsx';
import { useAlertStream } from './alertStream.ts';
import { PrincipalName } from '../../ui/principals.tsx';
import { Json, resolvePrincipal } from './common.tsx';
import { Table } from '../../ui/Table.tsx';
import { Fact, Facts } from '../../ui/Facts.tsx';
import { useAction } from '../../ui/useAction.tsx';

interface Evidence {
  log: 'decision_log' | 'audit_events';
  record_id: string;
  at: string;
  record: Record<string, unknown> | null;
}

export function AlertDetail({ params }: PageProps) {
  const me = useMe();
  const id = params.id ?? '';
  const a = useLoad<Alert & { evidence: Evidence[]; evidence_total: number }>((signal) => api('GET', `/v1/alerts/${encodeURIComponent(id)}`, { signal }), [id]);
  const [assignee, setAssignee] = useState('');
  const [finding, setFinding] = useState('');
  const { busy, error, status, run } = useAction();
  // Someone else's acknowledgement, assignment or resolution shows at once.
  const live = useAlertStream((e) => e.data.alert?.id === id && a.reload());

  const act = async (what: string, f: () => Promise<unknown>) => {
    const done = await run(async () => {
      await f();
      return what;
    });
    if (done) a.reload();
  };
  const post = (action: string, body?: unknown) => api('POST', `/v1/alerts/${encodeURIComponent(id)}/${action}`, { body });
  const assignTo = async (name: string) => {
    const r = await resolvePrincipal(name);
    if (!('principal' in r)) throw new Error('choices' in r ? `Several names start with “${name}”: give the whole name.` : `No principal is named “${name}”.`);
    await post('assign', { assignee_id: r.principal.id });
    setAssignee('');
  };

  if (a.error) {
    return (
      <main id="main">
        <h1>Alert</h1>
        <ErrorNote error={a.error} onRetry={a.reload} />
      </main>
    );
  }
  if (!a.data) {
    return (
      <main id="main">
        <h1>Alert</h1>
        <Loading />
      </main>
    );
  }
  const al = a.data;
  const manage = can(me, 'alerts:manage');
  return (
    <main id="main">
      <p>
        <Link to="/alerts">Alerts</Link>
      </p>
      <h1>{al.title}</h1>
      <LiveNote state={live} />
      <Facts>
        <Fact term="Severity" class={`sev-${al.severity}`}>{al.severity}</Fact>
        <Fact term="Status">{al.status}</Fact>
        <Fact term="Detector">
          <code>{al.detector}</code>
        </Fact>
        <Fact term="Subject">
          <Subject value={al.subject} />
        </Fact>
        <Fact term="Seen">
          {al.occurrences} time{al.occurrences === 1 ? '' : 's'}, <Time value={al.first_at} /> to <Time value={al.last_at} />
        </Fact>
        <Fact term="Assigned to">{al.assignee_id ? <PrincipalName id={al.assignee_id} /> : 'Nobody'}</Fact>
        <Fact term="Acknowledged">
          {al.acknowledged_at ? (
            <>
              <Time value={al.acknowledged_at} /> by <PrincipalName id={al.acknowledged_by} />
            </>
          ) : (
            'Not yet'
          )}
        </Fact>
        {al.resolved_at && (
          <>
            <Fact term="Resolved">
              <Time value={al.resolved_at} /> by <PrincipalName id={al.resolved_by} />
            </Fact>
            <Fact term="Finding">{al.finding}</Fact>
          </>
        )}
      </Facts>
      <details>
        <summary>Details from the detector</summary>
        <Json value={al.details} />
      </details>

      {status && (
        <p class="notice" role="status">
          {status}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {manage && al.status !== 'resolved' && (
        <section aria-labelledby="work">
          <h2 id="work">Work the alert</h2>
          {al.status === 'open' && (
            <div class="actions">
              <button type="button" disabled={busy} onClick={() => void act('Acknowledged.', () => post('acknowledge'))}>
                Acknowledge
              </button>
            </div>
          )}
          <form
            class="filters"
            aria-label="Assign"
            onSubmit={(e) => {
              e.preventDefault();
              void act('Assigned.', () => assignTo(assignee));
            }}
          >
            <Field label="Assign to (name)" value={assignee} onValue={setAssignee} required />
            <div class="actions">
              <button type="submit" disabled={busy || !assignee.trim()}>
                Assign
              </button>
              <button type="button" class="secondary" disabled={busy} onClick={() => void act('Assigned to you.', () => post('assign', { assignee_id: me.principal_id }))}>
                Assign to me
              </button>
            </div>
          </form>
          {al.status === 'acknowledged' ? (
            <form
              aria-label="Resolve"
              onSubmit={(e) => {
                e.preventDefault();
                void act('Resolved.', () => post('resolve', { finding: finding.trim() }));
              }}
            >
              <TextArea label="Finding" value={finding} onValue={setFinding} required rows={4} />
              <div class="actions">
                <button type="submit" disabled={busy || !finding.trim()}>
                  Resolve
                </button>
              </div>
            </form>
          ) : (
            <p class="muted">Acknowledge the alert before resolving it.</p>
          )}
        </section>
      )}

      <section aria-labelledby="evidence">
        <h2 id="evidence">Evidence</h2>
        {al.evidence.length === 0 ? (
          <Empty>No evidence recorded.</Empty>
        ) : (
          <Table caption={<>Records behind the alert ({al.evidence.length} of {al.evidence_total})</>} head={['When', 'Log', 'Record', 'Summary']}>
            {al.evidence.map((e) => (
              <tr key={e.record_id}>
                <td>
                  <Time value={e.at} />
                </td>
                <td>{e.log === 'decision_log' ? 'Decision' : 'Audit event'}</td>
                <td>
                  {e.log === 'decision_log' ? (
                    <Link to={`/decisions/${e.record_id}`}>Explain decision</Link>
                  ) : (
                    <Link to="/audit-events" query={{ event: e.record_id }}>
                      Open event
                    </Link>
                  )}
                </td>
                <td>{summary(e)}</td>
              </tr>
            ))}
          </Table>
        )}
      </section>
    </main>
  );
}

function summary(e: Evidence): string {
  const r = e.record;
  if (!r) return 'No longer in the log';
  if (e.log === 'decision_log') return `${String(r.effect)} ${String(r.dataset_id)} for ${String(r.purpose)}`;
  return `${String(r.type)} (${String(r.outcome)})`;
}
