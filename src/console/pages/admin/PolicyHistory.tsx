/**
 * Policy history (`GET /v1/policy/versions`, newest first): each version's
 * author, time, comment and files; what it changed against the one before
 * (`GET /v1/policy/diff`); and rollback (`POST /v1/policy/rollback`), which
 * creates a new version equal to an earlier one, sent with the If-Match of
 * the live version as this page read it, so a rollback never replaces a
 * version pushed since without its author seeing it. Reading needs
 * `policy:read`; rollback `policy:write` and a fresh second factor.
 */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { TextArea } from '../../ui/Field.tsx';
import { Dialog } from '../../ui/Dialog.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import { PrincipalName } from '../../ui/principals.tsx';
import { Held, isHeld } from './common.tsx';
import { loadLive } from './policyApi.ts';
import type { Change, PolicyDiff, PolicyVersion, VersionMeta } from './types.ts';
import { UnifiedDiff } from './UnifiedDiff.tsx';

function VersionDiff({ from, to }: { from: number; to: number }) {
  const d = useLoad<PolicyDiff>((signal) => api('GET', '/v1/policy/diff', { query: { from, to }, signal }), [from, to]);
  if (d.error) return <ErrorNote error={d.error} onRetry={d.reload} />;
  if (!d.data) return <Loading />;
  const files = [...d.data.documents, ...d.data.tests];
  return (
    <section aria-labelledby="version-diff">
      <h2 id="version-diff">
        Version {to} against version {from}
      </h2>
      <p>Changed rules: {d.data.changed_rules.length ? d.data.changed_rules.join(', ') : 'none'}</p>
      {files.length === 0 ? <p class="state empty">No differences.</p> : files.map((f) => <UnifiedDiff key={f.name} label={`Diff of ${f.name}`} text={f.unified} />)}
    </section>
  );
}

export function PolicyHistory() {
  const live = useLoad<PolicyVersion>((signal) => loadLive(signal), []);
  const [diffOf, setDiffOf] = useState<number>();
  const [target, setTarget] = useState<number>();
  const [comment, setComment] = useState('');
  const [listKey, setListKey] = useState(0);
  const act = useAction();

  const rollback = (version: number) =>
    act.run(async () => {
      setTarget(undefined);
      try {
        const r = await api<PolicyVersion | Change>('POST', '/v1/policy/rollback', {
          body: { version, ...(comment.trim() ? { comment: comment.trim() } : {}) },
          headers: { 'if-match': live.data!.etag },
        });
        setComment('');
        if (isHeld(r)) return <Held change={r} />;
        return `Rolled back: version ${r.version} (equal to version ${version}) is live.`;
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) throw new Error(`Refused: the live policy changed since this page loaded version ${live.data!.version}. Reload the history and try again.`);
        throw e;
      } finally {
        live.reload();
        setListKey((k) => k + 1);
      }
    });

  return (
    <main id="main">
      <h1>Policy history</h1>
      {live.error ? (
        <ErrorNote error={live.error} onRetry={live.reload} />
      ) : !live.data ? (
        <Loading />
      ) : (
        <p>
          Live: version {live.data.version}. <Link to="/admin/policy">Edit the policy</Link>
        </p>
      )}
      <Paged<VersionMeta> key={listKey} path="/v1/policy/versions" label="policy versions" limit={20} empty="No versions.">
        {(items) => (
          <Table caption="Policy versions, newest first" head={['Version', 'Created', 'Author', 'Comment', 'Files', '']}>
            {items.map((v) => (
              <tr key={v.version}>
                <th scope="row">
                  {v.version}
                  {v.version === live.data?.version ? ' (live)' : ''}
                </th>
                <td>
                  <Time value={v.created_at} />
                </td>
                <td>
                  <PrincipalName id={v.author_id} link />
                </td>
                <td>
                  {v.comment ?? '—'}
                  {v.rollback_of ? ` (restores version ${v.rollback_of})` : ''}
                </td>
                <td>{[...v.documents, ...v.tests].join(', ')}</td>
                <td>
                  <div class="actions">
                    {v.version > 1 && (
                      <button type="button" class="secondary" aria-pressed={diffOf === v.version} onClick={() => setDiffOf(diffOf === v.version ? undefined : v.version)}>
                        Changes in version {v.version}
                      </button>
                    )}
                    {live.data && v.version !== live.data.version && (
                      <button type="button" disabled={act.busy} onClick={() => setTarget(v.version)}>
                        Roll back to version {v.version}
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
      <Outcome status={act.status} error={act.error} />
      {diffOf !== undefined && <VersionDiff from={diffOf - 1} to={diffOf} />}
      <Dialog title={`Roll back to version ${target ?? ''}`} open={target !== undefined} onClose={() => setTarget(undefined)}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void rollback(target!);
          }}
        >
          <p>
            A new version equal to version {target} replaces version {live.data?.version}; it must pass its tests like any push.
          </p>
          <TextArea label="Reason for the rollback" value={comment} onValue={setComment} rows={2} />
          <div class="actions">
            <button type="submit">Roll back</button>
            <button type="button" class="secondary" onClick={() => setTarget(undefined)}>
              Cancel
            </button>
          </div>
        </form>
      </Dialog>
    </main>
  );
}
