/**
 * Projects (casbin domains: a role held in a project applies to its
 * datasets): the list, a project's page with its name and description, and
 * creation. Reads need `catalog:read`, writes `catalog:write`.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import type { PageProps } from '../types.ts';
import { Link, navigate } from '../../router.tsx';
import { Field, TextArea } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { Table } from '../../ui/Table.tsx';
import { EditSection } from './common.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import type { Project } from './types.ts';
import { Fact, Facts } from '../../ui/Facts.tsx';

export function Projects() {
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const act = useAction();
  const create = () =>
    act.run(async () => {
      const p = await api<Project>('POST', '/v1/projects', { body: { id: id.trim(), name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) } });
      navigate(`/admin/projects/${p.id}`);
    });
  return (
    <main id="main">
      <h1>Projects</h1>
      <Paged<Project> path="/v1/projects" label="projects" empty="No projects yet.">
        {(items) => (
          <Table caption="Projects" head={['Id', 'Name', 'Description', 'Updated']}>
            {items.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link to={`/admin/projects/${p.id}`}>{p.id}</Link>
                </td>
                <td>{p.name}</td>
                <td>{p.description || '—'}</td>
                <td>
                  <Time value={p.updated_at} />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
      <section aria-labelledby="new-project">
        <h2 id="new-project">Create a project</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <Field label="Project id" hint="Lowercase letters, digits and dashes" value={id} onValue={setId} required />
          <Field label="Project name" value={name} onValue={setName} required maxLength={200} />
          <TextArea label="Description" value={description} onValue={setDescription} />
          <button type="submit" disabled={act.busy}>
            Create project
          </button>
        </form>
        <Outcome error={act.error} />
      </section>
    </main>
  );
}

export function ProjectDetail({ params }: PageProps) {
  const p = useLoad<Project>((signal) => api('GET', `/v1/projects/${encodeURIComponent(params.id!)}`, { signal }), [params.id]);
  const [edit, setEdit] = useState<{ name: string; description: string }>();
  const act = useAction();
  const save = () =>
    act.run(async () => {
      await api('PATCH', `/v1/projects/${encodeURIComponent(params.id!)}`, { body: edit });
      setEdit(undefined);
      p.reload();
      return 'Project saved.';
    });
  return (
    <main id="main">
      <h1>Project {params.id}</h1>
      {p.error ? (
        <ErrorNote error={p.error} onRetry={p.reload} />
      ) : !p.data ? (
        <Loading />
      ) : (
        <>
          <Facts>
            <Fact term="Name">{p.data.name}</Fact>
            <Fact term="Description">{p.data.description || '—'}</Fact>
            <Fact term="Created">
              <Time value={p.data.created_at} />
            </Fact>
            <Fact term="Updated">
              <Time value={p.data.updated_at} />
            </Fact>
          </Facts>
          <EditSection id="edit-project" noun="project" edit={edit} setEdit={setEdit} start={() => ({ name: p.data!.name, description: p.data!.description })} save={() => void save()} busy={act.busy}>
            {(e) => (
              <>
                <Field label="Project name" value={e.name} onValue={(v) => setEdit({ ...e, name: v })} required maxLength={200} />
                <TextArea label="Description" value={e.description} onValue={(v) => setEdit({ ...e, description: v })} />
              </>
            )}
          </EditSection>
        </>
      )}
      <Outcome status={act.status} error={act.error} />
      <p>
        <Link to="/admin/projects">All projects</Link>
      </p>
    </main>
  );
}
