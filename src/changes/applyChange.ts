/**
 * Applying an approved change inside the approval's transaction. The target
 * must still be as it was when the change was proposed (its fingerprint):
 * otherwise the change fails rather than applying a stale diff. Checks come
 * first and write nothing, so a failure can be recorded in the same
 * transaction without undoing half a change.
 */
import { issueEnrollment, type IssuedEnrollment } from '../auth/enrollment.ts';
import { CustosError } from '../errors.ts';
import { roleGraph } from '../policy/loadPolicy.ts';
import type { PolicyFiles } from '../policy/store.ts';
import { roleFingerprint, type ChangeDeps } from './deps.ts';
import type { ChangeTx, PendingChange } from './store.ts';

/** Why an approved change could not be applied. */
export type ApplyFailure = 'target-changed' | 'no-longer-valid';

/** What applying did: the domain event it recorded (and, for a recovery, the secret to hand over once), or why it failed. */
export type ApplyOutcome = { ok: true; reloadPolicy: boolean; enrollment?: IssuedEnrollment } | { ok: false; reason: ApplyFailure; detail?: string };

/** Checks the target and applies the change with its domain audit event; writes nothing when it fails. */
export async function applyChange(deps: ChangeDeps, t: ChangeTx, c: PendingChange, approverId: string, meta: Parameters<ChangeDeps['audit']['record']>[0]['meta']): Promise<ApplyOutcome> {
  const trace = { change_id: c.id, proposed_by: c.proposer_id, approved_by: approverId };
  const invalid = (err: unknown): ApplyOutcome => {
    if (err instanceof CustosError) return { ok: false, reason: 'no-longer-valid', detail: err.message };
    throw err;
  };
  switch (c.kind) {
    case 'role.update': {
      const p = c.payload as { description: string; inherits: string[] };
      const role = await t.role(c.target);
      if (!role || roleFingerprint(role) !== c.base) return { ok: false, reason: 'target-changed' };
      try {
        await t.checkInherits(c.target, p.inherits);
      } catch (err) {
        return invalid(err);
      }
      await t.updateRole(c.target, { description: p.description, inherits: p.inherits });
      await deps.audit.recordIn(t.tx, { type: 'catalog.role.updated', outcome: 'success', actorId: approverId, meta, details: { id: c.target, before: role, after: { id: c.target, ...p }, ...trace } });
      return { ok: true, reloadPolicy: true };
    }
    case 'role.assign': {
      const p = c.payload as { principal_id: string; role_id: string; project_id: string | null };
      const role = await t.role(p.role_id);
      if (!role || roleFingerprint(role) !== c.base) return { ok: false, reason: 'target-changed' };
      try {
        await t.checkAssignable(p);
      } catch (err) {
        return invalid(err);
      }
      const assignment = await t.assign(p, c.proposer_id);
      await deps.audit.recordIn(t.tx, { type: 'role.assigned', outcome: 'success', actorId: approverId, subjectId: p.principal_id, meta, details: { assignment, ...trace } });
      return { ok: true, reloadPolicy: false };
    }
    case 'role.unassign': {
      const p = c.payload as { assignment_id: string };
      const removed = await t.unassign(p.assignment_id);
      if (!removed) return { ok: false, reason: 'target-changed' };
      await deps.audit.recordIn(t.tx, { type: 'role.unassigned', outcome: 'success', actorId: approverId, subjectId: removed.principal_id, meta, details: { before: removed, ...trace } });
      return { ok: true, reloadPolicy: false };
    }
    case 'principal.recover': {
      // The secret goes to the approver, shown once in the approval's answer; its
      // `enrollment.issued` event names the change (issueEnrollment records it in this transaction).
      try {
        const enrollment = await issueEnrollment(deps.auth, { principalId: c.target, tx: t.tx, actorId: approverId, meta, details: trace });
        return { ok: true, reloadPolicy: false, enrollment };
      } catch (err) {
        return invalid(err);
      }
    }
    case 'policy.update': {
      const p = c.payload as { documents: PolicyFiles; tests: PolicyFiles; comment: string | null; rollback_of: number | null; type: string };
      const basedOn = Number(c.base.slice('policy:'.length));
      if ((await t.latestPolicyVersion()) !== basedOn) return { ok: false, reason: 'target-changed' };
      // The role graph may have changed since the proposal: the candidate must still compile and pass its tests.
      try {
        await deps.checker.assertPasses({ documents: p.documents, tests: p.tests, roles: await roleGraph(deps.catalog) });
      } catch (err) {
        return invalid(err);
      }
      const created = await t.insertPolicyVersion({ basedOn, documents: p.documents, tests: p.tests, authorId: c.proposer_id, comment: p.comment, rollbackOf: p.rollback_of, at: deps.clock.now() });
      if (!created) return { ok: false, reason: 'target-changed' };
      const after = c.after as { changed_rules: string[] };
      await deps.audit.recordIn(t.tx, {
        type: p.type,
        outcome: 'success',
        actorId: approverId,
        meta,
        details: { before: c.before, after: created, changed_rules: after.changed_rules, rollback_of: p.rollback_of, comment: p.comment, ...trace },
      });
      return { ok: true, reloadPolicy: true };
    }
  }
}
