/**
 * Pending changes (dual control): what waits for a second administrator —
 * role changes, policy pushes that change test files, recoveries — with
 * its reasons and diff, to approve or reject. Any signed-in person sees the
 * changes the API shows them (their own, those their permission approves,
 * all of them for reviewers); approving needs the approving permission and
 * a fresh second factor (the dialog appears), never one's own change.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link, navigate } from '../../router.tsx';
import { Select, TextArea } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import { PrincipalName, principalOf } from '../../ui/principals.tsx';
import type { Change, PolicyDiff } from './types.ts';
import { UnifiedDiff } from './UnifiedDiff.tsx';
import { Fact, Facts } from '../../ui/Facts.tsx';

const KINDS: Record<Change['kind'], string> = {
  'role.update': 'role edit',
  'role.assign': 'role assignment',
  'role.unassign': 'role removal',
  'policy.update': 'policy push',
  'principal.recover': 'account recovery',
};
const STATUSES = ['pending', 'applied', 'rejected', 'withdrawn', 'expired', 'failed'];
/** Kinds whose target is a principal id (the others name a role, or the policy). */
const ABOUT_PRINCIPAL = new Set<Change['kind']>(['role.assign', 'role.unassign', 'principal.recover']);

/** What a change is about, linked: a person or service, a role, or the policy. */
function Target({ c }: { c: Pick<Change, 'kind' | 'target'> }) {
  if (ABOUT_PRINCIPAL.has(c.kind)) return <PrincipalName id={c.target} link />;
  if (c.kind === 'role.update') return <Link to={`/admin/roles/${c.target}`}>{c.target}</Link>;
  return <Link to="/admin/policy">the policy</Link>;
}

/** The same as text (for a heading). */
function useTargetName(c: Pick<Change, 'kind' | 'target'> | undefined): string | undefined {
  const [name, setName] = useState<string>();
  useEffect(() => {
    let live = true;
    if (c && ABOUT_PRINCIPAL.has(c.kind)) void principalOf(c.target).then((p) => live && setName(p?.name ?? c.target));
    else setName(c ? (c.kind === 'role.update' ? `role ${c.target}` : 'the policy') : undefined);
    return () => void (live = false);
  }, [c?.kind, c?.target]);
  return name;
}

export function Changes({ query }: PageProps) {
  const status = query.get('status') ?? 'pending';
  return (
    <main id="main">
      <h1>Pending changes</h1>
      <p>Changes that could widen someone's access wait here for a second administrator with a fresh second factor.</p>
      <div class="filters">
        <Select label="Status" value={status} onValue={(v) => navigate('/admin/changes', { status: v === 'pending' ? undefined : v }, true)}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </Select>
      </div>
      <Paged<Change> path="/v1/changes" query={{ status }} label="changes" empty={`No ${status} changes.`}>
        {(items) => (
          <Table caption={`Changes: ${status}`} head={['Change', 'Target', 'Why it waits', 'Proposed by', 'Proposed', status === 'pending' ? 'Expires' : 'Decided']}>
            {items.map((c) => (
              <tr key={c.id}>
                <td>
                  <Link to={`/admin/changes/${c.id}`}>{KINDS[c.kind]}</Link>
                </td>
                <td>
                  <Target c={c} />
                </td>
                <td>{c.reasons.join(', ') || '—'}</td>
                <td>
                  <PrincipalName id={c.proposer_id} link />
                </td>
                <td>
                  <Time value={c.proposed_at} />
                </td>
                <td>
                  <Time value={status === 'pending' ? c.expires_at : c.decided_at} />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
    </main>
  );
}

/** The unified diffs of a held policy push. */
function PolicyChangeDiff({ after }: { after: unknown }) {
  const diff = (after as { diff?: PolicyDiff } | null)?.diff;
  if (!diff) return null;
  return (
    <>
      <p>Changed rules: {diff.changed_rules.length ? diff.changed_rules.join(', ') : 'none'}</p>
      {[...diff.documents, ...diff.tests].map((f) => (
        <UnifiedDiff key={f.name} label={`Diff of ${f.name}`} text={f.unified} />
      ))}
    </>
  );
}

export function ChangeDetail({ params }: PageProps) {
  const c = useLoad<Change & { enrollment?: { secret: string; expires_at: string } }>((signal) => api('GET', `/v1/changes/${encodeURIComponent(params.id!)}`, { signal }), [params.id]);
  const [note, setNote] = useState('');
  const [secret, setSecret] = useState<{ secret: string; expires_at: string }>();
  const act = useAction();
  const decide = (how: 'approve' | 'reject') =>
    act.run(async () => {
      const body = how === 'approve' ? (note.trim() ? { comment: note.trim() } : {}) : note.trim() ? { reason: note.trim() } : {};
      const r = await api<Change & { enrollment?: { secret: string; expires_at: string } }>('POST', `/v1/changes/${encodeURIComponent(params.id!)}/${how}`, { body });
      if (r.enrollment) setSecret(r.enrollment);
      c.reload();
      return how === 'approve' ? 'Approved and applied.' : r.status === 'withdrawn' ? 'Withdrawn.' : 'Rejected.';
    });
  const x = c.data;
  const target = useTargetName(x);
  return (
    <main id="main">
      <h1>{x ? `Change: ${KINDS[x.kind]} of ${target ?? '…'}` : 'Change'}</h1>
      {c.error ? (
        <ErrorNote error={c.error} onRetry={c.reload} />
      ) : !x ? (
        <Loading />
      ) : (
        <>
          <Facts>
            <Fact term="Status">{x.status}</Fact>
            <Fact term="About">
              <Target c={x} />
            </Fact>
            <Fact term="Why it waits">{x.reasons.join(', ') || '—'}</Fact>
            <Fact term="Proposed by">
              <PrincipalName id={x.proposer_id} link />, <Time value={x.proposed_at} />
            </Fact>
            <Fact term="Comment">{x.comment ?? '—'}</Fact>
            <Fact term="Expires">
              <Time value={x.expires_at} />
            </Fact>
            {x.decided_by && (
              <>
                <Fact term="Decided by">
                  <PrincipalName id={x.decided_by} link />, <Time value={x.decided_at} />
                  {x.decision_reason ? `: ${x.decision_reason}` : ''}
                </Fact>
              </>
            )}
          </Facts>
          <section aria-labelledby="change-diff">
            <h2 id="change-diff">What it changes</h2>
            {x.kind === 'policy.update' ? (
              <PolicyChangeDiff after={x.after} />
            ) : (
              <Table caption="Before and after" head={['Before', 'After']}>
                <tr>
                  <td>
                    <pre>{JSON.stringify(x.before, null, 2)}</pre>
                  </td>
                  <td>
                    <pre>{JSON.stringify(x.after, null, 2)}</pre>
                  </td>
                </tr>
              </Table>
            )}
          </section>
          {x.status === 'pending' && (
            <section aria-labelledby="decide">
              <h2 id="decide">Decide</h2>
              <TextArea label="Comment or reason" value={note} onValue={setNote} />
              <div class="actions">
                <button type="button" disabled={act.busy} onClick={() => void decide('approve')}>
                  Approve change
                </button>
                <button type="button" class="danger" disabled={act.busy} onClick={() => void decide('reject')}>
                  Reject change
                </button>
              </div>
            </section>
          )}
          {secret && (
            <p>
              The new enrollment secret, shown only now (expires <Time value={secret.expires_at} />): <code aria-label="Enrollment secret">{secret.secret}</code>
            </p>
          )}
        </>
      )}
      <Outcome status={act.status} error={act.error} />
      <p>
        <Link to="/admin/changes">All pending changes</Link>
      </p>
    </main>
  );
}
