/**
 * Ask for access (POST /v1/access-requests): a role, where (a project or one
 * dataset), for how long, from when, and why. The roles offered, their
 * longest duration and the approvals they need are the policy's
 * (GET /v1/requestable-roles); the server still checks everything, and its
 * refusal (an unknown project, a start too far ahead) shows as it comes.
 */
import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { Field, Select, TextArea } from '../../ui/Field.tsx';
import { ErrorNote, Loading, messageOf } from '../../ui/states.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { duration } from './format.ts';
import type { AccessRequest } from './types.ts';

interface RequestableRole {
  role: string;
  max_duration_seconds: number;
  approvals: number;
  approver_roles: string[];
}

export function RequestForm({ onFiled }: { onFiled: (r: AccessRequest) => void }) {
  const roles = useLoad<{ items: RequestableRole[] }>((signal) => api('GET', '/v1/requestable-roles', { signal }), []);
  const [picked, setRole] = useState('');
  const [where, setWhere] = useState<'project' | 'dataset'>('project');
  const [scope, setScope] = useState('');
  const [hours, setHours] = useState('2');
  const [start, setStart] = useState('');
  const [justification, setJustification] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const role = picked || roles.data?.items[0]?.role || '';
  const limit = roles.data?.items.find((r) => r.role === role);

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

  if (roles.error) return <ErrorNote error={roles.error} onRetry={roles.reload} />;
  if (!roles.data) return <Loading />;
  if (roles.data.items.length === 0) return <p>The policy in force lets no role be requested just in time.</p>;
  return (
    <form
      aria-label="Ask for access"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div class="filters">
        <Select label="Role" value={role} onValue={setRole}>
          {roles.data.items.map((r) => (
            <option key={r.role} value={r.role}>
              {r.role}
            </option>
          ))}
        </Select>
        <Select label="Where" value={where} onValue={(v) => setWhere(v === 'dataset' ? 'dataset' : 'project')}>
          <option value="project">In a project</option>
          <option value="dataset">On one dataset</option>
        </Select>
        <Field label={where === 'project' ? 'Project' : 'Dataset'} hint={where === 'project' ? 'Project id, e.g. onc' : 'Dataset id'} value={scope} onValue={setScope} required maxLength={128} />
        <Field
          label="Duration in hours"
          type="number"
          min="0.25"
          max={limit ? String(limit.max_duration_seconds / 3600) : undefined}
          step="0.25"
          hint={limit ? `At most ${duration(limit.max_duration_seconds)}` : undefined}
          value={hours}
          onValue={setHours}
          required
        />
        <Field label="Start" type="datetime-local" hint="Empty: as soon as it is approved" value={start} onValue={setStart} />
      </div>
      {limit && (
        <p>
          {limit.role} needs {limit.approvals} {limit.approvals === 1 ? 'approval' : 'different approvers'} ({limit.approver_roles.join(' or ')}).
        </p>
      )}
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
