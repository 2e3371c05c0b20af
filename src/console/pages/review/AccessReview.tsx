/**
 * The access review (`GET /v1/reports/access-review`, `audit:read`): who can
 * read each PHI or limited dataset now, and why (standing role, grant,
 * break-glass), worked out by the deciding engine on the live policy; as
 * tables and as a CSV download (`format=csv`). Both are audit events.
 */
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Field } from '../../ui/Field.tsx';
import { Empty, ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { useFilters } from '../../ui/filters.ts';
import { DownloadButton } from '../../ui/DownloadButton.tsx';
import { Table } from '../../ui/Table.tsx';
import { FilterForm } from '../../ui/FilterForm.tsx';

interface Entry {
  principal_id: string;
  principal_name: string;
  principal_kind: string;
  basis: 'standing' | 'grant' | 'break-glass';
  purposes: string[];
  columns: string[];
  rules: string[];
  grant_ids: string[];
  expires_at: string | null;
}

interface Review {
  generated_at: string;
  policy_version: string;
  principals_considered: number;
  principal_limit: number;
  truncated: boolean;
  datasets: { dataset_id: string; project_id: string; classification: string; purposes: string[]; access: Entry[] }[];
}

const PATH = '/reports/access-review';
const BASIS: Record<Entry['basis'], string> = { standing: 'Standing role', grant: 'Grant', 'break-glass': 'Break-glass' };

export function AccessReview({ query }: PageProps) {
  const f = useFilters(PATH, query, ['dataset']);
  const dataset = f.applied.dataset;
  const review = useLoad<Review>((signal) => api('GET', '/v1/reports/access-review', { query: { dataset }, signal }), [dataset]);

  return (
    <main id="main">
      <h1>Access review</h1>
      <p class="muted">Who can read each PHI or limited dataset now, and why. Leave the dataset empty for all of them.</p>
      <FilterForm label="Report parameters" filters={f} submit="Run review" clear={false} extra={<DownloadButton path="/v1/reports/access-review" query={{ dataset, format: 'csv' }} filename="access-review.csv" secondary />}>
        <Field label="Dataset" value={f.values.dataset ?? ''} onValue={f.set('dataset')} />
      </FilterForm>
      {review.error ? (
        <ErrorNote error={review.error} onRetry={review.reload} />
      ) : !review.data || review.loading ? (
        <Loading />
      ) : (
        <>
          <p>
            Worked out <Time value={review.data.generated_at} /> on policy <code>{review.data.policy_version}</code>, over {review.data.principals_considered} principals.
          </p>
          {review.data.truncated && (
            <p class="notice" role="status">
              Only the first {review.data.principal_limit} principals were considered.
            </p>
          )}
          {review.data.datasets.length === 0 && <Empty>No PHI or limited dataset.</Empty>}
          {review.data.datasets.map((d) => (
            <section key={d.dataset_id} aria-labelledby={`ds-${d.dataset_id}`}>
              <h2 id={`ds-${d.dataset_id}`}>
                {d.dataset_id} <span class="muted">({d.classification}, project {d.project_id})</span>
              </h2>
              {d.access.length === 0 ? (
                <Empty>Nobody can read it now.</Empty>
              ) : (
                <Table caption={<>Who can read {d.dataset_id}</>} head={['Principal', 'Basis', 'Purposes', 'Columns', 'Rules', 'Until', 'Decisions']}>
                  {d.access.map((e) => (
                    <tr key={`${e.principal_id}-${e.basis}-${e.grant_ids.join()}`}>
                      <td>
                        {e.principal_name} {e.principal_kind === 'service' && <span class="muted">(service)</span>}
                      </td>
                      <td>
                        {BASIS[e.basis]}
                        {e.grant_ids.length > 0 && <span class="muted"> {e.grant_ids.join(', ')}</span>}
                      </td>
                      <td>{e.purposes.join(', ')}</td>
                      <td>{e.columns.join(', ')}</td>
                      <td>{e.rules.join(', ')}</td>
                      <td>{e.expires_at ? <Time value={e.expires_at} /> : 'No end'}</td>
                      <td>
                        <Link to="/decisions" query={{ principal: e.principal_name, dataset: d.dataset_id }}>
                          Their decisions
                        </Link>
                      </td>
                    </tr>
                  ))}
                </Table>
              )}
            </section>
          ))}
        </>
      )}
    </main>
  );
}
