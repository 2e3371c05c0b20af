/**
 * Datasets: the list with each one's derived classification and identifier
 * columns, and a dataset's page (columns with their Safe Harbor categories,
 * the records that decide the classification, purposes), where its
 * description and purposes can be edited. Reads need `catalog:read`;
 * writes `catalog:write` and a fresh second factor (the API asks; the
 * step-up dialog appears), since a dataset's columns and records decide
 * whether it is PHI.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { TextArea } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { ClassificationText, identifierColumns } from './classification.tsx';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import { PrincipalName } from '../../ui/principals.tsx';
import { EditSection, Words } from './common.tsx';
import { Checks } from './Checks.tsx';
import type { Dataset } from '../../api/types.ts';
import { PURPOSES } from './types.ts';
import { Fact, Facts } from '../../ui/Facts.tsx';

export function Datasets() {
  return (
    <main id="main">
      <h1>Datasets</h1>
      <p>
        Classification is derived from the columns' identifier categories and the dataset's records, never typed in. <Link to="/admin/create/dataset">Create a dataset</Link>
      </p>
      <Paged<Dataset> path="/v1/datasets" label="datasets" empty="No datasets yet.">
        {(items) => (
          <Table caption="Datasets" head={['Id', 'Project', 'Classification', 'Identifier columns', 'Purposes']}>
            {items.map((d) => (
              <tr key={d.id}>
                <td>
                  <Link to={`/admin/datasets/${d.id}`}>{d.id}</Link>
                </td>
                <td>
                  <Link to={`/admin/projects/${d.project_id}`}>{d.project_id}</Link>
                </td>
                <td>
                  <ClassificationText d={d} />
                </td>
                <td>
                  <Words items={identifierColumns(d)} />
                </td>
                <td>
                  <Words items={d.purposes} />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
    </main>
  );
}

export function DatasetDetail({ params }: PageProps) {
  const path = `/v1/datasets/${encodeURIComponent(params.id!)}`;
  const d = useLoad<Dataset>((signal) => api('GET', path, { signal }), [params.id]);
  const [edit, setEdit] = useState<{ description: string; purposes: string[] }>();
  const act = useAction();
  const save = () =>
    act.run(async () => {
      await api('PATCH', path, { body: edit });
      setEdit(undefined);
      d.reload();
      return 'Dataset saved.';
    });
  const ds = d.data;
  return (
    <main id="main">
      <h1>Dataset {params.id}</h1>
      {d.error ? (
        <ErrorNote error={d.error} onRetry={d.reload} />
      ) : !ds ? (
        <Loading />
      ) : (
        <>
          <Facts>
            <Fact term="Classification">
              <ClassificationText d={ds} />
            </Fact>
            <Fact term="Identifier categories">
              <Words items={ds.identifier_categories} />{' '}
              <Link to="/access/datasets" query={{ dataset: ds.id }}>
                Who can reach its identifier columns
              </Link>
            </Fact>
            <Fact term="Project">
              <Link to={`/admin/projects/${ds.project_id}`}>{ds.project_id}</Link>
            </Fact>
            <Fact term="Owner">
              <PrincipalName id={ds.owner_id} link />
            </Fact>
            <Fact term="Purposes">
              <Words items={ds.purposes} />
            </Fact>
            <Fact term="Description">{ds.description || '—'}</Fact>
            <Fact term="Token audience">
              <code>{ds.audience}</code>
            </Fact>
            <Fact term="Expert determination">{ds.expert_determination ? `${ds.expert_determination.expert} (${ds.expert_determination.method}), ${ds.expert_determination.determined_on} to ${ds.expert_determination.expires_on}` : 'none'}</Fact>
            <Fact term="Data use agreement">{ds.data_use_agreement ? `${ds.data_use_agreement.reference}, ${ds.data_use_agreement.signed_on} to ${ds.data_use_agreement.expires_on}` : 'none'}</Fact>
            <Fact term="Updated">
              <Time value={ds.updated_at} />
            </Fact>
          </Facts>
          <Table caption="Columns" head={['Column', 'Type', 'Identifier category']}>
            {ds.columns.map((c) => (
              <tr key={c.name}>
                <th scope="row">{c.name}</th>
                <td>{c.type}</td>
                <td>{c.category ?? 'not an identifier'}</td>
              </tr>
            ))}
          </Table>
          <EditSection id="edit-dataset" noun="dataset" edit={edit} setEdit={setEdit} start={() => ({ description: ds.description, purposes: ds.purposes })} save={() => void save()} busy={act.busy} blocked={edit?.purposes.length === 0}>
            {(e) => (
              <>
                <TextArea label="Description" value={e.description} onValue={(v) => setEdit({ ...e, description: v })} />
                <Checks legend="Permitted purposes" options={PURPOSES} value={e.purposes} onValue={(v) => setEdit({ ...e, purposes: v })} />
              </>
            )}
          </EditSection>
        </>
      )}
      <Outcome status={act.status} error={act.error} />
      <p>
        <Link to="/admin/datasets">All datasets</Link>
      </p>
    </main>
  );
}
