/**
 * Ask for access (POST /v1/access-requests): a role, where (a project or one
 * dataset), for how long, from when, and why. The policy decides which roles
 * may be asked for, for how long at most and how many approvers they need;
 * the server's refusal (a role not requestable, too long, a justification
 * too short) is shown as it comes, with the field it names.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Field, Select, TextArea } from '../../ui/Field.tsx';
import { messageOf } from '../../ui/states.tsx';
import type { AccessRequest } from './types.ts';

export function RequestForm({ onFiled }: { onFiled: (r: AccessRequest) => void }) {
  const [role, setRole] = useState('');
  const [where, setWhere] = useState<'project' | 'dataset'>('project');
  const [scope, setScope] = useState('');
  const [hours, setHours] = useState('2');
  const [start, setStart] = useState('');
  const [justification, setJustification] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const seconds = Math.round(Number(hours) * 3600);
      const r = await api<AccessRequest>('POST', '/v1/access-requests', {
        body: {
          role: role.trim(),
          [where]: scope.trim(),
          duration_seconds: seconds,
          justification: justification.trim(),
          // A datetime-local value is the viewer's local time; the API takes an instant.
          ...(start ? { starts_at: new Date(start).toISOString() } : {}),
        },
      });
      setJustification('');
      setStart('');
      onFiled(r);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      aria-label="Ask for access"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div class="filters">
        <Field label="Role" hint="A role the policy lets people request, e.g. data-scientist" value={role} onValue={setRole} required maxLength={63} />
        <Select label="Where" value={where} onValue={(v) => setWhere(v === 'dataset' ? 'dataset' : 'project')}>
          <option value="project">In a project</option>
          <option value="dataset">On one dataset</option>
        </Select>
        <Field label={where === 'project' ? 'Project' : 'Dataset'} hint={where === 'project' ? 'Project id, e.g. onc' : 'Dataset id'} value={scope} onValue={setScope} required maxLength={128} />
        <Field label="Duration in hours" type="number" min="0.25" step="0.25" value={hours} onValue={setHours} required />
        <Field label="Start" type="datetime-local" hint="Empty: as soon as it is approved" value={start} onValue={setStart} />
      </div>
      <TextArea label="Justification" value={justification} onValue={setJustification} rows={3} required minLength={20} />
      <p class="muted">Say what you will do with the data and why you need it now (at least 20 characters); approvers read it.</p>
      <button type="submit" disabled={busy}>
        Request access
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
