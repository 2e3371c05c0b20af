/**
 * Roles with their inheritance: the list (what each inherits directly),
 * and a role's page with the whole chain it inherits, the roles that
 * inherit it, and an edit of its description and parents. Creating and
 * editing need `roles:assign` and a fresh second factor; an edit that could
 * widen an administrator answers 202 and waits for a second administrator.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Field, TextArea } from '../../ui/Field.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { Checks } from './Checks.tsx';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import { EditSection, Held, isHeld } from './common.tsx';
import type { Change, Role } from './types.ts';
import { Paged } from '../../ui/Paged.tsx';
import { Fact, Facts } from '../../ui/Facts.tsx';

function RoleLinks({ ids }: { ids: string[] }) {
  if (ids.length === 0) return <>—</>;
  return (
    <>
      {ids.map((r, i) => (
        <span key={r}>
          {i > 0 && ', '}
          <Link to={`/admin/roles/${r}`}>{r}</Link>
        </span>
      ))}
    </>
  );
}

/** Every role `id` inherits, directly or through others (the catalog refuses cycles). */
function ancestors(id: string, all: Map<string, Role>): string[] {
  const seen = new Set<string>();
  const walk = (r: string) => {
    for (const p of all.get(r)?.inherits ?? []) {
      if (seen.has(p)) continue;
      seen.add(p);
      walk(p);
    }
  };
  walk(id);
  return [...seen].sort();
}

const useAllRoles = () => useLoad<{ items: Role[] }>((signal) => api('GET', '/v1/roles', { query: { limit: 200 }, signal }), []);

export function Roles() {
  const all = useAllRoles();
  const [id, setId] = useState('');
  const [description, setDescription] = useState('');
  const [inherits, setInherits] = useState<string[]>([]);
  const [shown, setShown] = useState(0);
  const act = useAction();
  const create = () =>
    act.run(async () => {
      const r = await api<Role>('POST', '/v1/roles', { body: { id: id.trim(), ...(description.trim() ? { description: description.trim() } : {}), inherits } });
      setId('');
      setDescription('');
      setInherits([]);
      setShown((n) => n + 1);
      all.reload();
      return (
        <>
          Role <Link to={`/admin/roles/${r.id}`}>{r.id}</Link> created.
        </>
      );
    });
  return (
    <main id="main">
      <h1>Roles</h1>
      <p>A role holds what the roles it inherits hold. Assign roles from a person's or service's page.</p>
      <Paged<Role> key={shown} path="/v1/roles" label="roles" empty="No roles yet.">
        {(items) => (
          <Table caption="Roles" head={['Role', 'Description', 'Inherits']}>
            {items.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link to={`/admin/roles/${r.id}`}>{r.id}</Link>
                </td>
                <td>{r.description || '—'}</td>
                <td>
                  <RoleLinks ids={r.inherits} />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
      <section aria-labelledby="new-role">
        <h2 id="new-role">Create a role</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <Field label="Role id" hint="Lowercase letters, digits and dashes" value={id} onValue={setId} required />
          <TextArea label="Description" value={description} onValue={setDescription} />
          <Checks legend="Inherits" options={(all.data?.items ?? []).map((r) => r.id)} value={inherits} onValue={setInherits} />
          <button type="submit" disabled={act.busy}>
            Create role
          </button>
        </form>
        <Outcome status={act.status} error={act.error} />
      </section>
    </main>
  );
}

export function RoleDetail({ params }: PageProps) {
  const id = params.id!;
  const role = useLoad<Role>((signal) => api('GET', `/v1/roles/${encodeURIComponent(id)}`, { signal }), [id]);
  const all = useAllRoles();
  const [edit, setEdit] = useState<{ description: string; inherits: string[] }>();
  const act = useAction();
  const save = () =>
    act.run(async () => {
      const r = await api<Role | Change>('PATCH', `/v1/roles/${encodeURIComponent(id)}`, { body: edit });
      setEdit(undefined);
      role.reload();
      all.reload();
      return isHeld(r) ? <Held change={r} /> : 'Role saved.';
    });
  const byId = new Map((all.data?.items ?? []).map((r) => [r.id, r]));
  const r = role.data;
  return (
    <main id="main">
      <h1>Role {id}</h1>
      {role.error ? (
        <ErrorNote error={role.error} onRetry={role.reload} />
      ) : !r ? (
        <Loading />
      ) : (
        <>
          <Facts>
            <Fact term="Description">{r.description || '—'}</Fact>
            <Fact term="Inherits directly">
              <RoleLinks ids={r.inherits} />
            </Fact>
            <Fact term="Inherits in all">{all.data ? <RoleLinks ids={ancestors(id, byId)} /> : '…'}</Fact>
            <Fact term="Inherited by">{all.data ? <RoleLinks ids={[...byId.values()].filter((x) => x.id !== id && ancestors(x.id, byId).includes(id)).map((x) => x.id)} /> : '…'}</Fact>
            <Fact term="Updated">
              <Time value={r.updated_at} />
            </Fact>
          </Facts>
          <EditSection id="edit-role" noun="role" edit={edit} setEdit={setEdit} start={() => ({ description: r.description, inherits: r.inherits })} save={() => void save()} busy={act.busy}>
            {(e) => (
              <>
                <TextArea label="Description" value={e.description} onValue={(v) => setEdit({ ...e, description: v })} />
                <Checks legend="Inherits" options={[...byId.keys()].filter((x) => x !== id)} value={e.inherits} onValue={(v) => setEdit({ ...e, inherits: v })} />
              </>
            )}
          </EditSection>
        </>
      )}
      <Outcome status={act.status} error={act.error} />
      <p>
        <Link to="/admin/roles">All roles</Link>
      </p>
    </main>
  );
}
