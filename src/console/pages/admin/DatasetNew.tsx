/**
 * Creating a dataset: id, project, owner, purposes and the column schema,
 * each column with its Safe Harbor identifier category (or none), and the
 * records that can lower its classification (an expert determination, a
 * data use agreement). The classification is not a field: the server
 * derives it, and the dataset's page shows it. Needs `catalog:write` and a
 * fresh second factor.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { navigate } from '../../router.tsx';
import { Field, Select, TextArea } from '../../ui/Field.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { Checks } from './Checks.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import type { Dataset, Principal } from '../../api/types.ts';
import { COLUMN_TYPES, IDENTIFIER_CATEGORIES, PURPOSES, type Project } from './types.ts';

interface ColumnDraft {
  name: string;
  type: string;
  category: string;
}

const blank = (): ColumnDraft => ({ name: '', type: 'string', category: '' });

export function DatasetNew() {
  const projects = useLoad<{ items: Project[] }>((signal) => api('GET', '/v1/projects', { query: { limit: 200 }, signal }), []);
  const people = useLoad<{ items: Principal[] }>((signal) => api('GET', '/v1/principals', { query: { limit: 200 }, signal }), []);
  const [id, setId] = useState('');
  const [project, setProject] = useState('');
  const [owner, setOwner] = useState('');
  const [description, setDescription] = useState('');
  const [purposes, setPurposes] = useState<string[]>(['model-training']);
  const [columns, setColumns] = useState<ColumnDraft[]>([blank()]);
  const [ed, setEd] = useState<{ expert: string; method: string; determined_on: string; expires_on: string }>();
  const [dua, setDua] = useState<{ reference: string; signed_on: string; expires_on: string }>();
  const act = useAction();

  const setColumn = (i: number, patch: Partial<ColumnDraft>) => setColumns(columns.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  const create = () =>
    act.run(async () => {
      const body = {
        id: id.trim(),
        project_id: project,
        owner_id: owner,
        purposes,
        columns: columns.map((c) => ({ name: c.name.trim(), type: c.type, ...(c.category ? { category: c.category } : {}) })),
        ...(description.trim() ? { description: description.trim() } : {}),
        ...(ed ? { expert_determination: ed } : {}),
        ...(dua ? { data_use_agreement: dua } : {}),
      };
      const d = await api<Dataset>('POST', '/v1/datasets', { body });
      navigate(`/admin/datasets/${d.id}`);
    });
  const users = (people.data?.items ?? []).filter((p) => p.kind === 'user' && p.status === 'active');

  return (
    <main id="main">
      <h1>Create a dataset</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <Field label="Dataset id" hint="Lowercase letters, digits, dot, dash, underscore" value={id} onValue={setId} required />
        <Select label="Project" value={project} onValue={setProject}>
          <option value="">Choose a project</option>
          {projects.data?.items.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name} ({p.id})
            </option>
          ))}
        </Select>
        <Select label="Owner" value={owner} onValue={setOwner}>
          <option value="">Choose a person</option>
          {users.map((p) => (
            <option key={p.id} value={p.id}>
              {p.display_name && p.display_name !== p.name ? `${p.display_name} (${p.name})` : p.name}
            </option>
          ))}
        </Select>
        <TextArea label="Description" value={description} onValue={setDescription} />
        <Checks legend="Permitted purposes" options={PURPOSES} value={purposes} onValue={setPurposes} />

        <fieldset>
          <legend>Columns</legend>
          <p class="muted">Give each column that holds a HIPAA identifier its Safe Harbor category; the classification follows from them.</p>
          {columns.map((c, i) => (
            <div class="column-row" key={i}>
              <Field label={`Column ${i + 1} name`} value={c.name} onValue={(v) => setColumn(i, { name: v })} required />
              <Select label={`Column ${i + 1} type`} value={c.type} onValue={(v) => setColumn(i, { type: v })}>
                {COLUMN_TYPES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </Select>
              <Select label={`Column ${i + 1} identifier category`} value={c.category} onValue={(v) => setColumn(i, { category: v })}>
                <option value="">not an identifier</option>
                {IDENTIFIER_CATEGORIES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </Select>
              <button type="button" class="secondary" disabled={columns.length === 1} onClick={() => setColumns(columns.filter((_, j) => j !== i))}>
                Remove column {i + 1}
              </button>
            </div>
          ))}
          <button type="button" class="secondary" onClick={() => setColumns([...columns, blank()])}>
            Add a column
          </button>
        </fieldset>

        <fieldset>
          <legend>Expert determination (§164.514(b)(1))</legend>
          <label>
            <input type="checkbox" checked={!!ed} onChange={(e) => setEd((e.target as HTMLInputElement).checked ? { expert: '', method: '', determined_on: '', expires_on: '' } : undefined)} /> Record an expert
            determination
          </label>
          {ed && (
            <>
              <Field label="Expert" value={ed.expert} onValue={(v) => setEd({ ...ed, expert: v })} required />
              <Field label="Method" value={ed.method} onValue={(v) => setEd({ ...ed, method: v })} required />
              <Field label="Determined on" type="date" value={ed.determined_on} onValue={(v) => setEd({ ...ed, determined_on: v })} required />
              <Field label="Determination expires on" type="date" value={ed.expires_on} onValue={(v) => setEd({ ...ed, expires_on: v })} required />
            </>
          )}
        </fieldset>

        <fieldset>
          <legend>Data use agreement (limited data set, §164.514(e))</legend>
          <label>
            <input type="checkbox" checked={!!dua} onChange={(e) => setDua((e.target as HTMLInputElement).checked ? { reference: '', signed_on: '', expires_on: '' } : undefined)} /> Record a data use agreement
          </label>
          {dua && (
            <>
              <Field label="Agreement reference" value={dua.reference} onValue={(v) => setDua({ ...dua, reference: v })} required />
              <Field label="Signed on" type="date" value={dua.signed_on} onValue={(v) => setDua({ ...dua, signed_on: v })} required />
              <Field label="Agreement expires on" type="date" value={dua.expires_on} onValue={(v) => setDua({ ...dua, expires_on: v })} required />
            </>
          )}
        </fieldset>

        <button type="submit" disabled={act.busy || !project || !owner || purposes.length === 0}>
          Create dataset
        </button>
      </form>
      <Outcome error={act.error} />
    </main>
  );
}
