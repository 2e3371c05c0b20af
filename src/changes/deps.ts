/**
 * What the dual-control operations need, and the helpers they share:
 * fingerprints of a change's target, holding a change, showing one.
 */
import { createHash } from 'node:crypto';
import type { AuditLog, RequestMeta } from '../audit/log.ts';
import type { AuthDeps } from '../auth/deps.ts';
import type { PolicyChecker } from '../policy/checkInWorker.ts';
import type { CatalogStore } from '../catalog/store.ts';
import type { Clock, IdGenerator } from '../clock.ts';
import { UnavailableError } from '../errors.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { ChangeKind, HoldReason } from './privilege.ts';
import type { ChangeStatus, ChangeTx, PendingChange, RoleState } from './store.ts';
import type { ChangeStore } from './store.ts';

/** Dependencies of the change operations. */
export interface ChangeDeps {
  store: ChangeStore;
  audit: AuditLog;
  /** Step-up checks of approvers. */
  auth: AuthDeps;
  /** The role graph the policy compiles against (policy approvals re-run the tests). */
  catalog: CatalogStore;
  /** Runs a candidate policy's compile and tests in a worker, within time and memory limits. */
  checker: PolicyChecker;
  /** The live policy: its approver roles, and the reload after a change. */
  policy: PolicyHolder;
  clock: Clock;
  ids: IdGenerator;
  /** How long a change waits for a second administrator (CUSTOS_CHANGE_TTL_SECONDS). */
  ttlSeconds: number;
}

/** A role's fingerprint: what it inherits and its description, hashed (order of parents does not matter). */
export function roleFingerprint(r: RoleState): string {
  const body = JSON.stringify({ description: r.description, inherits: [...new Set(r.inherits)].sort() });
  return `role:${createHash('sha256').update(body).digest('hex')}`;
}

/** A change as the API shows it: a pending change past its time reads as expired. */
export function showChange(c: PendingChange, now: Date): PendingChange & { status: ChangeStatus } {
  return c.status === 'pending' && new Date(c.expires_at).getTime() <= now.getTime() ? { ...c, status: 'expired' } : c;
}

/** Stores a change that must wait, with its `change.proposed` event, in the caller's transaction. */
export async function holdChange(
  deps: ChangeDeps,
  t: ChangeTx,
  o: { kind: ChangeKind; target: string; payload: Record<string, unknown>; before: unknown; after: unknown; base: string; reasons: HoldReason[]; comment?: string | null | undefined; actorId: string; meta: RequestMeta; subjectId?: string | undefined },
): Promise<PendingChange> {
  const now = deps.clock.now();
  const change = await t.insertChange({
    id: deps.ids(),
    kind: o.kind,
    target: o.target,
    payload: o.payload,
    before: o.before,
    after: o.after,
    base: o.base,
    reasons: o.reasons,
    comment: o.comment ?? null,
    proposer_id: o.actorId,
    proposed_at: now.toISOString(),
    expires_at: new Date(now.getTime() + deps.ttlSeconds * 1000).toISOString(),
  });
  await deps.audit.recordIn(t.tx, {
    type: 'change.proposed',
    outcome: 'info',
    actorId: o.actorId,
    subjectId: o.subjectId ?? null,
    meta: o.meta,
    details: { change_id: change.id, kind: o.kind, target: o.target, reasons: o.reasons, before: o.before, after: withoutTextDiff(o.after), expires_at: change.expires_at },
  });
  return change;
}

/** The change's `after` without a policy's unified text diff (the event keeps the summary; the change keeps the text). */
function withoutTextDiff(after: unknown): unknown {
  if (!after || typeof after !== 'object' || !('diff' in after)) return after;
  const { diff: _diff, ...rest } = after as Record<string, unknown>;
  return rest;
}

/**
 * After a committed role-graph or policy change: this replica recompiles now
 * (the others on the NOTIFY of the write); a failure is reported, not hidden.
 */
export async function reloadPolicy(deps: ChangeDeps): Promise<void> {
  const r = await deps.policy.reload();
  if (!r.ok) throw new UnavailableError({ reason: 'policy reload after a change failed', error: r.error });
}
