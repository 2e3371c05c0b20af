/**
 * Break-glass (HIPAA §164.312(a)(2)(ii)): emergency access a person activates
 * themselves, with fresh MFA (the route demands it) and a reason. It grants
 * the policy's break-glass role in one scope for at most an hour (policy and
 * configuration cap it), counts only for the `emergency` purpose, flags every
 * decision and token it allows, raises a critical audit event and an
 * immediate notification, and leaves a review item that a security reviewer
 * must close with a finding.
 */
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import { assertJustified, assertPerson, holdsRoleIn, resolveScope, type Actor, type GrantDeps } from './deps.ts';
import { grantNotice } from './notices.ts';
import type { Grant } from './store.ts';

/** What an activation names. */
export interface BreakGlassInput {
  project?: string | undefined;
  dataset?: string | undefined;
  reason: string;
  duration_seconds?: number | undefined;
}

/** Activates break-glass for the caller. */
export async function activateBreakGlass(deps: GrantDeps, actor: Actor, input: BreakGlassInput): Promise<Grant> {
  await assertPerson(deps, actor);
  const me = actor.auth.principalId;
  const bg = deps.policy.current().breakGlass;
  if (!bg) throw new ForbiddenError('Break-glass is not enabled by the policy.');
  const cap = Math.min(bg.maxSeconds, deps.settings.breakGlassMaxSeconds);
  const seconds = input.duration_seconds ?? cap;
  if (seconds > cap) throw new ValidationError(`Break-glass lasts at most ${cap} seconds.`, [{ path: 'body.duration_seconds', message: `at most ${cap}` }]);
  const reason = assertJustified(deps, input.reason, 'body.reason');
  const scope = await resolveScope(deps, input);
  if (!(await holdsRoleIn(deps, me, bg.eligibleRoles, scope.project))) {
    await deps.audit.record({ type: 'break_glass.activated', outcome: 'failure', actorId: me, subjectId: me, meta: actor.meta, details: { severity: 'critical', project: scope.project, reason: 'not eligible' } });
    throw new ForbiddenError(`Break-glass in project ${scope.project} needs one of the roles ${bg.eligibleRoles.join(', ')} there.`);
  }
  const now = deps.clock.now();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const grant = await deps.store.insertBreakGlass(
    {
      id: deps.ids(),
      principalId: me,
      roleId: bg.role,
      projectId: scope.projectId,
      datasetId: scope.datasetId,
      notBefore,
      expiresAt: new Date(notBefore.getTime() + seconds * 1000),
      breakGlass: true,
      requestId: null,
      justification: reason,
      createdBy: me,
    },
    deps.ids(),
    (g) => ({
      notices: [grantNotice('break_glass.activated', g, { severity: 'critical', activated_by: me })],
      events: [
        {
          type: 'break_glass.activated',
          outcome: 'success',
          actorId: me,
          subjectId: me,
          meta: actor.meta,
          details: { severity: 'critical', grant_id: g.id, role: g.role_id, project: g.project_id, dataset: g.dataset_id, expires_at: g.expires_at, justification: reason, review_id: g.review?.id },
        },
      ],
    }),
  );
  deps.kick();
  return grant;
}

/** A security reviewer closes the review of an activation with a finding. */
export async function closeBreakGlassReview(deps: GrantDeps, actor: Actor, grantId: string, input: { outcome: 'justified' | 'unjustified'; finding: string }): Promise<Grant> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant?.break_glass) throw new NotFoundError(`Break-glass activation ${grantId}`);
  if (grant.principal_id === actor.auth.principalId) {
    await deps.audit.record({ type: 'break_glass.reviewed', outcome: 'failure', actorId: actor.auth.principalId, subjectId: grant.principal_id, meta: actor.meta, details: { grant_id: grantId, reason: 'own activation' } });
    throw new ForbiddenError('You may not review your own break-glass activation.');
  }
  const finding = assertJustified(deps, input.finding, 'body.finding');
  const closed = await deps.store.closeReview({ grantId, by: actor.auth.principalId, outcome: input.outcome, finding, at: deps.clock.now() }, (g) => ({
    notices: [grantNotice('break_glass.reviewed', g)],
    events: [{ type: 'break_glass.reviewed', outcome: 'success', actorId: actor.auth.principalId, subjectId: g.principal_id, meta: actor.meta, details: { grant_id: grantId, outcome: input.outcome, finding } }],
  }));
  if (!closed) throw new ConflictError('This activation has already been reviewed.');
  deps.kick();
  return closed;
}
