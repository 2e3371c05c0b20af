/**
 * Vendors and their business associate agreements: the list with each
 * vendor's active agreement and when it expires, and a vendor's page with
 * every BAA (effective and expiry dates, purposes and classifications it
 * covers, whether it is in force today) and a form to record a new one
 * (`catalog:write` with a fresh second factor). A vendor's principals get
 * nothing an active BAA does not cover.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Link, navigate } from '../../router.tsx';
import { Field } from '../../ui/Field.tsx';
import { Paged } from '../../ui/Paged.tsx';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import type { PageProps } from '../types.ts';
import { Checks } from './Checks.tsx';
import { Table } from '../../ui/Table.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import { daysUntil, Words } from './common.tsx';
import { CLASSIFICATIONS, PURPOSES, type Baa, type Vendor } from './types.ts';

/** "in force, expires 2027-01-01 (in 25 days)", "expired 2026-01-01", "from 2027-02-01". */
function baaState(b: Baa): string {
  const left = daysUntil(b.expires_on);
  if (b.active) return `in force, expires ${b.expires_on} (in ${left} day${left === 1 ? '' : 's'})`;
  if (left <= 0) return `expired ${b.expires_on}`;
  return `not yet in force (from ${b.effective_on})`;
}

export function Vendors() {
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const act = useAction();
  const create = () =>
    act.run(async () => {
      const v = await api<Vendor>('POST', '/v1/vendors', { body: { id: id.trim(), name: name.trim() } });
      navigate(`/admin/vendors/${v.id}`);
    });
  return (
    <main id="main">
      <h1>Vendors and BAAs</h1>
      <Paged<Vendor> path="/v1/vendors" label="vendors" empty="No vendors yet.">
        {(items) => (
          <Table caption="Vendors" head={['Vendor', 'Name', 'Business associate agreement']}>
            {items.map((v) => {
              const active = v.baas.filter((b) => b.active).sort((a, b) => b.expires_on.localeCompare(a.expires_on));
              return (
                <tr key={v.id}>
                  <td>
                    <Link to={`/admin/vendors/${v.id}`}>{v.id}</Link>
                  </td>
                  <td>{v.name}</td>
                  <td>{active[0] ? `${active[0].reference}: ${baaState(active[0])}` : <span class="deny">none in force</span>}</td>
                </tr>
              );
            })}
          </Table>
        )}
      </Paged>
      <section aria-labelledby="new-vendor">
        <h2 id="new-vendor">Add a vendor</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <Field label="Vendor id" hint="Lowercase letters, digits and dashes" value={id} onValue={setId} required />
          <Field label="Vendor name" value={name} onValue={setName} required maxLength={200} />
          <button type="submit" disabled={act.busy}>
            Add vendor
          </button>
        </form>
        <Outcome error={act.error} />
      </section>
    </main>
  );
}

export function VendorDetail({ params }: PageProps) {
  const id = params.id!;
  const v = useLoad<Vendor>((signal) => api('GET', `/v1/vendors/${encodeURIComponent(id)}`, { signal }), [id]);
  const [name, setName] = useState<string>();
  const [baa, setBaa] = useState({ reference: '', effective_on: '', expires_on: '', purposes: ['model-training'], classifications: ['deidentified'] });
  const act = useAction();
  const add = () =>
    act.run(async () => {
      await api('POST', `/v1/vendors/${encodeURIComponent(id)}/baas`, { body: baa });
      v.reload();
      return `Agreement ${baa.reference} recorded.`;
    });
  const rename = () =>
    act.run(async () => {
      await api('PATCH', `/v1/vendors/${encodeURIComponent(id)}`, { body: { name: name!.trim() } });
      setName(undefined);
      v.reload();
      return 'Vendor renamed.';
    });
  return (
    <main id="main">
      <h1>Vendor {v.data?.name ?? id}</h1>
      {v.data &&
        (name === undefined ? (
          <button type="button" class="secondary" onClick={() => setName(v.data!.name)}>
            Rename vendor
          </button>
        ) : (
          <form
            class="filters"
            onSubmit={(e) => {
              e.preventDefault();
              void rename();
            }}
          >
            <Field label="Vendor name" value={name} onValue={setName} required maxLength={200} />
            <button type="submit" disabled={act.busy}>
              Save name
            </button>
            <button type="button" class="secondary" onClick={() => setName(undefined)}>
              Cancel
            </button>
          </form>
        ))}
      {v.error ? (
        <ErrorNote error={v.error} onRetry={v.reload} />
      ) : !v.data ? (
        <Loading />
      ) : v.data.baas.length === 0 ? (
        <p class="state empty">No business associate agreement recorded: this vendor's principals get nothing.</p>
      ) : (
        <Table caption="Business associate agreements" head={['Reference', 'Effective', 'Expires', 'Purposes', 'Classifications', 'State']}>
          {v.data.baas.map((b) => (
            <tr key={b.id}>
              <th scope="row">{b.reference}</th>
              <td>{b.effective_on}</td>
              <td>{b.expires_on}</td>
              <td>
                <Words items={b.purposes} />
              </td>
              <td>
                <Words items={b.classifications} />
              </td>
              <td>{baaState(b)}</td>
            </tr>
          ))}
        </Table>
      )}
      <section aria-labelledby="new-baa">
        <h2 id="new-baa">Record an agreement</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void add();
          }}
        >
          <Field label="Agreement reference" value={baa.reference} onValue={(x) => setBaa({ ...baa, reference: x })} required maxLength={200} />
          <Field label="Effective on" type="date" value={baa.effective_on} onValue={(x) => setBaa({ ...baa, effective_on: x })} required />
          <Field label="Expires on" type="date" value={baa.expires_on} onValue={(x) => setBaa({ ...baa, expires_on: x })} required />
          <Checks legend="Purposes it covers" options={PURPOSES} value={baa.purposes} onValue={(x) => setBaa({ ...baa, purposes: x })} />
          <Checks legend="Classifications it covers" options={CLASSIFICATIONS} value={baa.classifications} onValue={(x) => setBaa({ ...baa, classifications: x })} />
          <button type="submit" disabled={act.busy || baa.purposes.length === 0 || baa.classifications.length === 0}>
            Record agreement
          </button>
        </form>
        <Outcome status={act.status} error={act.error} />
      </section>
      <p>
        <Link to="/admin/vendors">All vendors</Link>
      </p>
    </main>
  );
}
