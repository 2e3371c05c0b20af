/**
 * People and services: the list with each service's sponsor and project,
 * and a principal's page: its facts and sponsor, its role assignments
 * (assign or remove: `roles:assign` with step-up; an administrative,
 * approver or reviewer role waits for a second administrator, shown as
 * such), editing its display name and email, and enabling or disabling it
 * (`catalog:write` with step-up;
 * disabling ends its sessions, and a person's services with it).
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Field, Select } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import { forgetPrincipal, PrincipalName } from '../../ui/principals.tsx';
import { Held, isHeld, SaveOrCancel } from './common.tsx';
import type { Principal } from '../../api/types.ts';
import type { Change, Project, Role, RoleAssignment } from './types.ts';
import { Fact, Facts } from '../../ui/Facts.tsx';

export function Principals() {
  return (
    <main id="main">
      <h1>People and services</h1>
      <p>
        Every service has a sponsor, a person: it never gets more than its sponsor could, and a disabled sponsor disables it. <Link to="/admin/create/principal">Create a person or service</Link>
      </p>
      <Paged<Principal> path="/v1/principals" label="people and services" empty="No principals yet.">
        {(items) => (
          <Table caption="People and services" head={['Name', 'Kind', 'Display name', 'Status', 'Sponsor', 'Project', 'Vendor']}>
            {items.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link to={`/admin/principals/${p.id}`}>{p.name}</Link>
                </td>
                <td>{p.kind === 'user' ? 'person' : 'service'}</td>
                <td>{p.display_name || '—'}</td>
                <td>{p.status}</td>
                <td>{p.kind === 'service' ? <PrincipalName id={p.sponsor_id} link /> : '—'}</td>
                <td>{p.project_id ? <Link to={`/admin/projects/${p.project_id}`}>{p.project_id}</Link> : '—'}</td>
                <td>{p.vendor_id ? <Link to={`/admin/vendors/${p.vendor_id}`}>{p.vendor_id}</Link> : '—'}</td>
              </tr>
            ))}
          </Table>
        )}
      </Paged>
    </main>
  );
}

export function PrincipalDetail({ params }: PageProps) {
  const id = params.id!;
  const p = useLoad<Principal>((signal) => api('GET', `/v1/principals/${encodeURIComponent(id)}`, { signal }), [id]);
  const assignments = useLoad<{ items: RoleAssignment[] }>((signal) => api('GET', '/v1/role-assignments', { query: { principal_id: id, limit: 200 }, signal }), [id]);
  const roles = useLoad<{ items: Role[] }>((signal) => api('GET', '/v1/roles', { query: { limit: 200 }, signal }), []);
  const projects = useLoad<{ items: Project[] }>((signal) => api('GET', '/v1/projects', { query: { limit: 200 }, signal }), []);
  const [edit, setEdit] = useState<{ display_name: string; email: string }>();
  const [role, setRole] = useState('');
  const [scope, setScope] = useState('');
  const act = useAction();

  const setStatus = (status: 'active' | 'disabled') =>
    act.run(async () => {
      await api('PATCH', `/v1/principals/${encodeURIComponent(id)}`, { body: { status } });
      forgetPrincipal(id);
      p.reload();
      return status === 'disabled' ? 'Disabled: its sessions have ended.' : 'Enabled.';
    });
  const save = (x: Principal) =>
    act.run(async () => {
      const body = { display_name: edit!.display_name.trim(), ...(x.kind === 'user' ? { email: edit!.email.trim() || null } : {}) };
      await api('PATCH', `/v1/principals/${encodeURIComponent(id)}`, { body });
      forgetPrincipal(id);
      setEdit(undefined);
      p.reload();
      return 'Saved.';
    });
  const assign = () =>
    act.run(async () => {
      const r = await api<RoleAssignment | Change>('POST', '/v1/role-assignments', { body: { principal_id: id, role_id: role, project_id: scope || null } });
      assignments.reload();
      return isHeld(r) ? <Held change={r} /> : `Role ${role} assigned${scope ? ` in project ${scope}` : ' organisation-wide'}.`;
    });
  const unassign = (a: RoleAssignment) =>
    act.run(async () => {
      const r = await api<Change | undefined>('DELETE', `/v1/role-assignments/${a.id}`);
      assignments.reload();
      return isHeld(r) ? <Held change={r} /> : `Role ${a.role_id} removed.`;
    });

  const x = p.data;
  return (
    <main id="main">
      <h1>{x ? `${x.kind === 'user' ? 'Person' : 'Service'} ${x.name}` : 'Principal'}</h1>
      {p.error ? (
        <ErrorNote error={p.error} onRetry={p.reload} />
      ) : !x ? (
        <Loading />
      ) : (
        <>
          <Facts>
            <Fact term="Kind">{x.kind === 'user' ? 'person' : 'service'}</Fact>
            <Fact term="Display name">{x.display_name || '—'}</Fact>
            <Fact term="Status">{x.status}</Fact>
            {x.kind === 'user' && <Fact term="Email">{x.email ?? '—'}</Fact>}
            {x.kind === 'service' && (
              <>
                <Fact term="Sponsor">
                  <PrincipalName id={x.sponsor_id} link />
                </Fact>
                <Fact term="Project">{x.project_id ? <Link to={`/admin/projects/${x.project_id}`}>{x.project_id}</Link> : '—'}</Fact>
              </>
            )}
            <Fact term="Vendor">{x.vendor_id ? <Link to={`/admin/vendors/${x.vendor_id}`}>{x.vendor_id}</Link> : '—'}</Fact>
            <Fact term="Attributes">{Object.keys(x.attributes).length ? <code>{JSON.stringify(x.attributes)}</code> : '—'}</Fact>
            <Fact term="Id">
              <code>{x.id}</code>
            </Fact>
            <Fact term="Created">
              <Time value={x.created_at} />
            </Fact>
          </Facts>
          {edit ? (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                void save(x);
              }}
            >
              <Field label="Display name" value={edit.display_name} onValue={(v) => setEdit({ ...edit, display_name: v })} maxLength={200} />
              {x.kind === 'user' && <Field label="Email" type="email" value={edit.email} onValue={(v) => setEdit({ ...edit, email: v })} />}
              <SaveOrCancel label="Save" disabled={act.busy} onCancel={() => setEdit(undefined)} />
            </form>
          ) : null}
          <div class="actions">
            {!edit && (
              <button type="button" class="secondary" onClick={() => setEdit({ display_name: x.display_name, email: x.email ?? '' })}>
                Edit {x.name}
              </button>
            )}
            {x.status === 'active' ? (
              <button type="button" class="danger" disabled={act.busy} onClick={() => void setStatus('disabled')}>
                Disable {x.name}
              </button>
            ) : (
              <button type="button" disabled={act.busy} onClick={() => void setStatus('active')}>
                Enable {x.name}
              </button>
            )}
          </div>
        </>
      )}

      <section aria-labelledby="roles">
        <h2 id="roles">Roles</h2>
        {assignments.error ? (
          <ErrorNote error={assignments.error} onRetry={assignments.reload} />
        ) : !assignments.data ? (
          <Loading />
        ) : assignments.data.items.length === 0 ? (
          <p class="state empty">No roles assigned.</p>
        ) : (
          <Table caption="Role assignments" head={['Role', 'Scope', 'Assigned by', 'Since', '']}>
            {assignments.data.items.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link to={`/admin/roles/${a.role_id}`}>{a.role_id}</Link>
                </td>
                <td>{a.project_id ? `project ${a.project_id}` : 'organisation-wide'}</td>
                <td>
                  <PrincipalName id={a.created_by} link />
                </td>
                <td>
                  <Time value={a.created_at} />
                </td>
                <td>
                  <button type="button" class="secondary" disabled={act.busy} onClick={() => void unassign(a)}>
                    Remove {a.role_id}
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            void assign();
          }}
        >
          <Select label="Role to assign" value={role} onValue={setRole}>
            <option value="">Choose a role</option>
            {roles.data?.items.map((r) => (
              <option key={r.id} value={r.id}>
                {r.id}
              </option>
            ))}
          </Select>
          <Select label="In project" value={scope} onValue={setScope}>
            <option value="">Organisation-wide</option>
            {projects.data?.items.map((pr) => (
              <option key={pr.id} value={pr.id}>
                {pr.id}
              </option>
            ))}
          </Select>
          <button type="submit" disabled={act.busy || !role}>
            Assign role
          </button>
        </form>
      </section>
      <Outcome status={act.status} error={act.error} />
      <p>
        <Link to="/admin/principals">All people and services</Link>
      </p>
    </main>
  );
}
