/**
 * The accounting of disclosures (HIPAA §164.528; `GET /v1/reports/disclosures`,
 * `audit:read`): every PHI or limited-data read of one dataset in a period,
 * as a table and as a CSV download (`format=csv`, every row, streamed by the
 * server). Both are audit events (`audit.report`, `audit.export`).
 */
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Field } from '../../ui/Field.tsx';
import { Empty, ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { useFilters } from '../../ui/filters.ts';
import { Slice } from './Slice.tsx';
import { DownloadButton } from '../../ui/DownloadButton.tsx';
import { Table } from '../../ui/Table.tsx';
import { FilterForm, PeriodFields } from '../../ui/FilterForm.tsx';

interface Disclosure {
  decision_id: string;
  at: string;
  principal_id: string;
  principal_name: string | null;
  principal_kind: string | null;
  sponsor_id: string | null;
  purpose: string;
  classification: string;
  columns: string[];
  rules: string[];
  grant_ids: string[];
  break_glass: boolean;
  token_jti: string | null;
  job: { job_id?: string } | null;
}

interface Report {
  dataset: string;
  from: string;
  to: string;
  items: Disclosure[];
  truncated: boolean;
}

const PATH = '/reports/disclosures';

export function Disclosures({ query }: PageProps) {
  const f = useFilters(PATH, query, ['dataset', 'from', 'to']);
  const { dataset, from, to } = f.applied;
  const report = useLoad<Report | undefined>((signal) => (dataset ? api('GET', '/v1/reports/disclosures', { query: { dataset, from, to }, signal }) : Promise.resolve(undefined)), [dataset, from, to]);

  return (
    <main id="main">
      <h1>Accounting of disclosures</h1>
      <p class="muted">PHI and limited-data reads of one dataset: who, when, which columns, for what purpose and on what basis. The period defaults to the six years before now.</p>
      <FilterForm label="Report parameters" filters={f} submit="Run report" clear={false}>
        <Field label="Dataset" required value={f.values.dataset ?? ''} onValue={f.set('dataset')} />
        <PeriodFields filters={f} />
      </FilterForm>
      {!dataset ? (
        <Empty>Name a dataset to account for its disclosures.</Empty>
      ) : report.error ? (
        <ErrorNote error={report.error} onRetry={report.reload} />
      ) : !report.data || report.loading ? (
        <Loading />
      ) : (
        <>
          <p>
            {report.data.items.length} disclosure{report.data.items.length === 1 ? '' : 's'} of <strong>{report.data.dataset}</strong> from <Time value={report.data.from} /> to{' '}
            <Time value={report.data.to} />.
          </p>
          <div class="actions">
            <DownloadButton path="/v1/reports/disclosures" query={{ dataset, from, to, format: 'csv' }} filename={`disclosures-${dataset}.csv`} />
          </div>
          {report.data.truncated && (
            <p class="notice" role="status">
              The table shows the first {report.data.items.length} rows; the CSV has every row.
            </p>
          )}
          {report.data.items.length === 0 ? (
            <Empty>No disclosure in this period.</Empty>
          ) : (
            <Slice items={report.data.items} label="disclosures">
              {(items) => (
                <Table caption="Disclosures, oldest first" head={['When', 'Principal', 'Purpose', 'Columns', 'Basis', 'Token or job', 'Decision']}>
                  {items.map((d) => (
                    <tr key={d.decision_id}>
                      <td>
                        <Time value={d.at} />
                      </td>
                      <td>
                        {d.principal_name ?? <code>{d.principal_id}</code>} <span class="muted">{d.principal_kind === 'service' ? '(service)' : ''}</span>
                      </td>
                      <td>{d.purpose}</td>
                      <td>{d.columns.join(', ')}</td>
                      <td>
                        {d.rules.join(', ')}
                        {d.grant_ids.length > 0 && <span class="muted"> · grant {d.grant_ids.join(', ')}</span>}
                        {d.break_glass && <span class="badge">break-glass</span>}
                      </td>
                      <td>{d.job?.job_id ?? d.token_jti ?? '—'}</td>
                      <td>
                        <Link to={`/decisions/${d.decision_id}`}>Explain</Link>
                      </td>
                    </tr>
                  ))}
                </Table>
              )}
            </Slice>
          )}
        </>
      )}
    </main>
  );
}
