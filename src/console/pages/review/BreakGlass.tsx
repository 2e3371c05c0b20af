/**
 * Break-glass reviews (`GET /v1/break-glass`; security reviewers see every
 * activation): each emergency access with its reason, and its review closed
 * with an outcome and a finding (`POST /v1/break-glass/{id}/review`,
 * `access:review` with a fresh second factor: the step-up dialog asks for
 * it; nobody reviews their own).
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Dialog } from '../../ui/Dialog.tsx';
import { Select, TextArea } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { Time } from '../../ui/Time.tsx';
import type { PageProps } from '../types.ts';
import { useFilters } from '../../ui/filters.ts';
import { PrincipalName } from '../../ui/principals.tsx';
import type { Grant } from '../../api/types.ts';
import { Table } from '../../ui/Table.tsx';
import { useAction } from '../../ui/useAction.tsx';

const PATH = '/break-glass';
const scope = (g: Grant) => (g.dataset_id ? `dataset ${g.dataset_id}` : g.project_id ? `project ${g.project_id}` : 'everywhere');

export function BreakGlass({ query }: PageProps) {
  const f = useFilters(PATH, query, ['review']);
  const [version, setVersion] = useState(0);
  const [closing, setClosing] = useState<Grant>();
  const [status, setStatus] = useState<string>();

  return (
    <main id="main">
      <h1>Break-glass reviews</h1>
      <p class="muted">Every emergency access is reviewed after the fact. Closing a review asks for a fresh second factor; nobody reviews their own.</p>
      <form class="filters" aria-label="Review filter" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Reviews"
          value={f.values.review ?? ''}
          onValue={(v) => {
            f.set('review')(v);
            f.apply({ review: v });
          }}
        >
          <option value="">All</option>
          <option value="open">Open</option>
          <option value="closed">Closed</option>
        </Select>
      </form>
      {status && (
        <p class="notice" role="status">
          {status}
        </p>
      )}
      <Paged<Grant> key={version} path="/v1/break-glass" query={{ review: f.applied.review }} label="break-glass activations" empty="No break-glass activation.">
        {(items) => (
          <Table caption="Break-glass activations, newest first" head={['Who', 'Role and scope', 'From', 'Until', 'Reason given', 'Review', 'Decisions']}>
            {items.map((g) => (
              <tr key={g.id}>
                <td>
                  <PrincipalName id={g.principal_id} />
                </td>
                <td>
                  {g.role_id}, {scope(g)} <span class="muted">({g.state})</span>
                </td>
                <td>
                  <Time value={g.not_before} />
                </td>
                <td>
                  <Time value={g.expires_at} />
                </td>
                <td>{g.justification ?? '—'}</td>
                <td>
                  {g.review?.status === 'closed' ? (
                    <>
                      <span class={g.review.outcome === 'justified' ? 'allow' : 'deny'}>{g.review.outcome === 'justified' ? 'Justified' : 'Unjustified'}</span>: {g.review.finding}{' '}
                      <span class="muted">
                        (<PrincipalName id={g.review.closed_by} />, <Time value={g.review.closed_at} />)
                      </span>
                    </>
                  ) : (
                    <button type="button" onClick={() => setClosing(g)}>
                      Close review
                    </button>
                  )}
                </td>
                <td>
                  <Link to="/decisions" query={{ grant: g.id }}>
                    Decisions
                  </Link>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
      <CloseReview
        grant={closing}
        onClose={() => setClosing(undefined)}
        onDone={(g) => {
          setClosing(undefined);
          setStatus(`Review closed: ${g.review?.outcome ?? ''}.`);
          setVersion((v) => v + 1);
        }}
      />
    </main>
  );
}

function CloseReview({ grant, onClose, onDone }: { grant: Grant | undefined; onClose: () => void; onDone: (g: Grant) => void }) {
  const [outcome, setOutcome] = useState('justified');
  const [finding, setFinding] = useState('');
  const { busy, error, run, setError } = useAction();

  const submit = async () => {
    if (!grant) return;
    await run(async () => {
      const g = await api<Grant>('POST', `/v1/break-glass/${encodeURIComponent(grant.id)}/review`, { body: { outcome, finding: finding.trim() } });
      setFinding('');
      onDone(g);
    });
  };

  return (
    <Dialog
      title="Close the break-glass review"
      open={grant !== undefined}
      onClose={() => {
        setError(undefined);
        onClose();
      }}
    >
      {grant && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <p>
            <PrincipalName id={grant.principal_id} />, {grant.role_id} on {scope(grant)}, <Time value={grant.not_before} />. Reason given: {grant.justification ?? '—'}
          </p>
          <Select label="Outcome" value={outcome} onValue={setOutcome}>
            <option value="justified">Justified</option>
            <option value="unjustified">Unjustified</option>
          </Select>
          <TextArea label="Finding" value={finding} onValue={setFinding} required rows={4} />
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="submit" disabled={busy || !finding.trim()}>
              Close review
            </button>
            <button type="button" class="secondary" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
