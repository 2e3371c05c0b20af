/**
 * Chain verification. Status: the anchor witnesses as `/readyz` reports
 * them, and the last verification on record (the newest `audit.verified`
 * audit event). A run: `GET /v1/audit/verify?from&to` (`access:review`)
 * recomputes every chain in the window and checks the signed checkpoints
 * and anchors. It is one request that answers when it is done, with no
 * progress of its own to report, so the page shows an indeterminate
 * progress bar with the time elapsed, then the report.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Field } from '../../ui/Field.tsx';
import { ErrorNote, Loading, messageOf } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { fromLocalInput, toLocalInput } from '../../ui/filters.ts';
import { Table } from '../../ui/Table.tsx';
import { Fact, Facts } from '../../ui/Facts.tsx';

interface Witness {
  name: string;
  ok: boolean;
  pending: number;
  dropped: number;
  failures: number;
  last_error: string | null;
  failing_since: string | null;
  last_written_at: string | null;
}

interface Problem {
  log: string;
  kind: string;
  chain_id: string;
  seq: number;
  last_seq: number | null;
  record_id: string | null;
  at: string | null;
  detail: string;
}

interface Report {
  ok: boolean;
  from: string;
  to: string;
  records: number;
  chains: number;
  checkpoints: number;
  seconds: number;
  records_per_second: number;
  problems: Problem[];
  anchors: { anchors: number; malformed: number[]; unreadable: string | null; chains: number } | null;
}

interface VerifiedEvent {
  id: string;
  at: string;
  outcome: string;
  actor_id: string | null;
  details: { from?: string; to?: string; records?: number; problems?: number };
}

export function Verify() {
  const ready = useLoad<{ anchors: 'ok' | 'failing'; witnesses: Witness[] }>((signal) => api('GET', '/readyz', { signal }), []);
  const last = useLoad<{ items: VerifiedEvent[] }>((signal) => api('GET', '/v1/audit-events', { query: { type: 'audit.verified', limit: 1 }, signal }), []);
  // Empty means the server's defaults (the last 24 hours by its clock), not this browser's.
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [run, setRun] = useState<{ started: number; ctl: AbortController }>();
  const [elapsed, setElapsed] = useState(0);
  const [report, setReport] = useState<Report>();
  const [error, setError] = useState<string>();
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);

  useEffect(() => {
    if (!run) return;
    const t = setInterval(() => setElapsed(Math.floor((Date.now() - run.started) / 1000)), 1000);
    return () => clearInterval(t);
  }, [run]);

  const start = async () => {
    const ctl = new AbortController();
    setRun({ started: Date.now(), ctl });
    setElapsed(0);
    setReport(undefined);
    setError(undefined);
    try {
      const r = await api<Report>('GET', '/v1/audit/verify', { query: { from: from || undefined, to: to || undefined }, signal: ctl.signal });
      if (mounted.current) setReport(r);
      last.reload();
    } catch (e) {
      if (mounted.current) setError(ctl.signal.aborted ? 'Stopped waiting for the verification (the server finishes it and records it anyway).' : messageOf(e));
    } finally {
      if (mounted.current) setRun(undefined);
    }
  };

  const lastRun = last.data?.items[0];
  return (
    <main id="main">
      <h1>Chain verification</h1>
      <section aria-labelledby="status">
        <h2 id="status">Status</h2>
        {ready.error ? (
          <ErrorNote error={ready.error} onRetry={ready.reload} />
        ) : !ready.data ? (
          <Loading />
        ) : (
          <>
            <p>
              Anchors: <strong class={ready.data.anchors === 'ok' ? 'allow' : 'deny'}>{ready.data.anchors === 'ok' ? 'every witness takes anchors' : 'a witness is failing'}</strong>
            </p>
            {ready.data.witnesses.length === 0 ? (
              <p class="muted">No anchor witness is configured.</p>
            ) : (
              <Table caption="Anchor witnesses" head={['Witness', 'State', 'Last written', 'Pending', 'Dropped', 'Last error']}>
                {ready.data.witnesses.map((w) => (
                  <tr key={w.name}>
                    <td>{w.name}</td>
                    <td class={w.ok ? 'allow' : 'deny'}>{w.ok ? 'OK' : 'Failing'}</td>
                    <td>
                      <Time value={w.last_written_at} />
                    </td>
                    <td>{w.pending}</td>
                    <td>{w.dropped}</td>
                    <td>{w.last_error ?? '—'}</td>
                  </tr>
                ))}
              </Table>
            )}
          </>
        )}
        {last.error ? (
          <ErrorNote error={last.error} onRetry={last.reload} />
        ) : !last.data ? (
          <Loading />
        ) : lastRun ? (
          <p>
            Last verification: <Time value={lastRun.at} />, <strong class={lastRun.outcome === 'success' ? 'allow' : 'deny'}>{lastRun.outcome === 'success' ? 'intact' : 'problems found'}</strong>
            {lastRun.details.records !== undefined && ` (${lastRun.details.records} records, ${lastRun.details.problems ?? 0} problems)`}.{' '}
            <Link to="/audit-events" query={{ type: 'audit.verified' }}>
              Every verification
            </Link>
          </p>
        ) : (
          <p class="muted">No verification is on record yet.</p>
        )}
      </section>

      <section aria-labelledby="run">
        <h2 id="run">Run a verification</h2>
        <form
          class="filters"
          aria-label="Verification window"
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <Field label="From" type="datetime-local" hint="empty: 24 hours before To" value={toLocalInput(from)} onValue={(v) => setFrom(fromLocalInput(v) ?? '')} />
          <Field label="To" type="datetime-local" hint="empty: now" value={toLocalInput(to)} onValue={(v) => setTo(fromLocalInput(v) ?? '')} />
          <div class="actions">
            <button type="submit" disabled={!!run}>
              Verify
            </button>
            {run && (
              <button type="button" class="secondary" onClick={() => run.ctl.abort()}>
                Stop waiting
              </button>
            )}
          </div>
        </form>
        {run && (
          <div role="status" aria-live="polite">
            <progress aria-label="Verification in progress" />
            <p>
              Verifying… {elapsed} s elapsed.
            </p>
          </div>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {report && <ReportView r={report} />}
      </section>
    </main>
  );
}

function ReportView({ r }: { r: Report }) {
  return (
    <section aria-labelledby="verify-result">
      <h3 id="verify-result">{r.ok ? 'The logs are intact' : `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} found`}</h3>
      <Facts>
        <Fact term="Window">
          <Time value={r.from} /> to <Time value={r.to} />
        </Fact>
        <Fact term="Records">{r.records}</Fact>
        <Fact term="Chains">{r.chains}</Fact>
        <Fact term="Checkpoints">{r.checkpoints}</Fact>
        <Fact term="Anchors">{r.anchors ? `${r.anchors.anchors} anchors over ${r.anchors.chains} chains${r.anchors.unreadable ? `; unreadable: ${r.anchors.unreadable}` : ''}` : 'No anchor file configured'}</Fact>
        <Fact term="Time taken">
          {r.seconds.toFixed(2)} s ({Math.round(r.records_per_second)} records/s)
        </Fact>
      </Facts>
      {r.problems.length > 0 && (
        <Table caption="Problems, the first of each chain" head={['Log', 'Kind', 'Chain', 'Position', 'When', 'Detail']}>
          {r.problems.map((p, i) => (
            <tr key={i}>
              <td>{p.log}</td>
              <td class="deny">{p.kind}</td>
              <td>
                <code>{p.chain_id}</code>
              </td>
              <td>
                {p.seq}
                {p.last_seq !== null && `–${p.last_seq}`}
              </td>
              <td>
                <Time value={p.at} />
              </td>
              <td>{p.detail}</td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}
