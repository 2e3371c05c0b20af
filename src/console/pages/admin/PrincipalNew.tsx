/**
 * Creating a person or a service. A person receives a one-time enrollment
 * secret, shown here once (hand it over out of band); a service names its
 * sponsor (a person) and project. Needs `catalog:write` and a fresh second
 * factor.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Field, Select } from '../../ui/Field.tsx';
import { Time } from '../../ui/Time.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import type { Principal } from '../../api/types.ts';
import type { Project, Vendor } from './types.ts';

type Created = Principal & { enrollment?: { secret: string; expires_at: string } };

export function PrincipalNew() {
  const people = useLoad<{ items: Principal[] }>((signal) => api('GET', '/v1/principals', { query: { limit: 200 }, signal }), []);
  const projects = useLoad<{ items: Project[] }>((signal) => api('GET', '/v1/projects', { query: { limit: 200 }, signal }), []);
  const vendors = useLoad<{ items: Vendor[] }>((signal) => api('GET', '/v1/vendors', { query: { limit: 200 }, signal }), []);
  const [kind, setKind] = useState<'user' | 'service'>('user');
  const [name, setName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [email, setEmail] = useState('');
  const [sponsor, setSponsor] = useState('');
  const [project, setProject] = useState('');
  const [vendor, setVendor] = useState('');
  const [created, setCreated] = useState<Created>();
  const act = useAction();

  const create = () =>
    act.run(async () => {
      const common = { name: name.trim(), ...(displayName.trim() ? { display_name: displayName.trim() } : {}), ...(vendor ? { vendor_id: vendor } : {}) };
      const body = kind === 'user' ? { kind, ...common, ...(email.trim() ? { email: email.trim() } : {}) } : { kind, ...common, sponsor_id: sponsor, project_id: project };
      setCreated(await api<Created>('POST', '/v1/principals', { body }));
    });

  if (created)
    return (
      <main id="main">
        <h1>{created.kind === 'user' ? 'Person' : 'Service'} created</h1>
        <p>
          <Link to={`/admin/principals/${created.id}`}>{created.name}</Link> was created.
        </p>
        {created.enrollment && (
          <section aria-labelledby="enrollment">
            <h2 id="enrollment">One-time enrollment secret</h2>
            <p>
              Give this to {created.name} by a channel you trust; it is shown only now and expires <Time value={created.enrollment.expires_at} />.
            </p>
            <p>
              <code aria-label="Enrollment secret">{created.enrollment.secret}</code>
            </p>
          </section>
        )}
      </main>
    );

  const users = (people.data?.items ?? []).filter((p) => p.kind === 'user' && p.status === 'active');
  return (
    <main id="main">
      <h1>Create a person or service</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <Select label="Kind" value={kind} onValue={(v) => setKind(v as 'user' | 'service')}>
          <option value="user">Person</option>
          <option value="service">Service (a training job or a dataset server)</option>
        </Select>
        <Field label="Name" hint="Login or service name: lowercase letters, digits and . _ @ -" value={name} onValue={setName} required />
        <Field label="Display name" value={displayName} onValue={setDisplayName} maxLength={200} />
        {kind === 'user' ? (
          <Field label="Email" type="email" value={email} onValue={setEmail} />
        ) : (
          <>
            <Select label="Sponsor" value={sponsor} onValue={setSponsor}>
              <option value="">Choose a person</option>
              {users.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name}
                </option>
              ))}
            </Select>
            <Select label="Project" value={project} onValue={setProject}>
              <option value="">Choose a project</option>
              {projects.data?.items.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.id}
                </option>
              ))}
            </Select>
          </>
        )}
        <Select label="Vendor" value={vendor} onValue={setVendor}>
          <option value="">None (a workforce member)</option>
          {vendors.data?.items.map((v) => (
            <option key={v.id} value={v.id}>
              {v.name}
            </option>
          ))}
        </Select>
        <button type="submit" disabled={act.busy || (kind === 'service' && (!sponsor || !project))}>
          Create {kind === 'user' ? 'person' : 'service'}
        </button>
      </form>
      <Outcome error={act.error} />
    </main>
  );
}
