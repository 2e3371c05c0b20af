/**
 * "Who can reach this dataset's identifier columns": pick a dataset, then
 * every principal who can read it now, per purpose, with the identifier
 * columns they can read (GET /v1/datasets/{id}/access?identifiers=true), or
 * every column (identifiers=false). For holders of `catalog:read` or
 * `audit:read`; the dataset list (GET /v1/datasets) needs `catalog:read`,
 * without it a dataset is given by id. Choices live in the URL.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { can, useMe } from '../../me.ts';
import { navigate } from '../../router.tsx';
import { Field, Select } from '../../ui/Field.tsx';
import { Empty, ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { loadAll, usePrincipals } from './lookups.ts';
import { ReachTable } from './ReachTable.tsx';
import type { Dataset } from '../../api/types.ts';
import type { Reach } from './types.ts';

export function DatasetReach({ query }: PageProps) {
  const me = useMe();
  const listed = can(me, 'catalog:read');
  const dataset = query.get('dataset') ?? '';
  const identifiers = query.get('identifiers') !== 'false';
  const datasets = useLoad(async (signal) => (listed ? (await loadAll<Dataset>('/v1/datasets', signal)).items : []), [listed]);
  // Chosen in the form, shown on "Show": each reach read is an audited report, so arrowing through the list reads nothing.
  const [typed, setTyped] = useState(dataset);
  const [onlyIds, setOnlyIds] = useState(identifiers);
  const show = () => navigate('/access/datasets', { dataset: typed.trim() || undefined, identifiers: onlyIds ? undefined : 'false' }, true);
  const chosen = datasets.data?.find((d) => d.id === dataset);

  return (
    <main id="main">
      <h1>Who can reach a dataset</h1>
      <p>Everyone who can read the dataset right now, for each purpose, through which role or grant and until when. By default only the identifier columns are shown: who can reach the PHI.</p>
      <form
        class="filters"
        aria-label="Choose a dataset"
        onSubmit={(e) => {
          e.preventDefault();
          show();
        }}
      >
        {listed ? (
          datasets.error ? (
            <ErrorNote error={datasets.error} onRetry={datasets.reload} />
          ) : !datasets.data ? (
            <Loading label="Loading datasets…" />
          ) : (
            <Select label="Dataset" value={typed} onValue={setTyped}>
              <option value="">Choose a dataset</option>
              {datasets.data.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.id} ({d.classification})
                </option>
              ))}
            </Select>
          )
        ) : (
          <Field label="Dataset id" value={typed} onValue={setTyped} />
        )}
        <Select label="Columns" value={onlyIds ? 'true' : 'false'} onValue={(v) => setOnlyIds(v === 'true')}>
          <option value="true">Identifier columns only</option>
          <option value="false">All columns</option>
        </Select>
        <button type="submit" disabled={!typed.trim()}>
          Show
        </button>
      </form>
      {chosen && (
        <p>
          Project <code>{chosen.project_id}</code>, classification <strong>{chosen.classification}</strong>
          {chosen.identifier_categories.length ? `; identifier categories: ${chosen.identifier_categories.join(', ')}` : '; no identifier columns'}.
        </p>
      )}
      {dataset && <DatasetRows key={`${dataset}/${identifiers}`} dataset={dataset} identifiers={identifiers} info={chosen} />}
    </main>
  );
}

function DatasetRows({ dataset, identifiers, info }: { dataset: string; identifiers: boolean; info: Dataset | undefined }) {
  const me = useMe();
  const reach = useLoad<Reach>((signal) => api('GET', `/v1/datasets/${encodeURIComponent(dataset)}/access`, { query: { identifiers }, signal }), [dataset, identifiers]);
  const principals = usePrincipals(reach.data?.items.map((r) => r.principal_id) ?? [], can(me, 'catalog:read'));
  if (reach.error) return <ErrorNote error={reach.error} onRetry={reach.reload} />;
  if (!reach.data) return <Loading />;
  const { items, at, policy_version } = reach.data;
  const who = new Set(items.map((r) => r.principal_id)).size;
  const ids = new Set(info?.columns.filter((c) => c.category).map((c) => c.name));
  return (
    <section aria-labelledby="dataset-reach" aria-busy={reach.loading}>
      <h2 id="dataset-reach">
        {identifiers ? 'Who can read identifier columns of' : 'Who can read'} {dataset}
      </h2>
      <p class="muted">
        {who} {who === 1 ? 'principal' : 'principals'}, computed <Time value={at} /> under policy version <code>{policy_version}</code>.
      </p>
      {items.length === 0 ? (
        <Empty>{identifiers ? 'Nobody can read an identifier column of this dataset now.' : 'Nobody can read this dataset now.'}</Empty>
      ) : (
        <ReachTable caption={`${identifiers ? 'Identifier columns of' : 'Columns of'} ${dataset} readable now`} items={items} by="principal" principals={principals} identifiers={ids} />
      )}
    </section>
  );
}
