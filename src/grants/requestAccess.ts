/**
 * A person asks for a role in a scope for a while, with a justification.
 * The policy says which roles may be asked for, for how long at most, and
 * how many approvers are needed.
 */
import { ForbiddenError, ValidationError } from '../errors.ts';
import { assertJustified, assertPerson, resolveScope, type Actor, type GrantDeps } from './deps.ts';
import type { AccessRequest } from './store.ts';
import { requestNotice } from './notices.ts';

/** What a requester asks for. */
export interface AccessRequestInput {
  role: string;
  project?: string | undefined;
  dataset?: string | undefined;
  duration_seconds: number;
  justification: string;
  /** Scheduled start; omitted = as soon as approved. */
  starts_at?: string | undefined;
}

/** Files an access request. */
export async function requestAccess(deps: GrantDeps, actor: Actor, input: AccessRequestInput): Promise<AccessRequest> {
  await assertPerson(deps, actor);
  const limit = deps.policy.current().accessLimits.get(input.role);
  if (!limit) throw new ForbiddenError(`Role ${input.role} cannot be requested just in time.`, { role: input.role });
  if (input.duration_seconds > limit.maxSeconds) {
    throw new ValidationError(`Role ${input.role} may be requested for at most ${limit.maxSeconds} seconds.`, [{ path: 'body.duration_seconds', message: `at most ${limit.maxSeconds}` }]);
  }
  const justification = assertJustified(deps, input.justification, 'body.justification');
  const scope = await resolveScope(deps, input);
  const now = deps.clock.now();
  let startsAt: Date | null = null;
  if (input.starts_at !== undefined) {
    startsAt = new Date(input.starts_at);
    if (startsAt.getTime() < now.getTime() - 60_000) throw new ValidationError('The start is in the past.', [{ path: 'body.starts_at', message: 'in the past' }]);
    if (startsAt.getTime() > now.getTime() + deps.settings.maxStartAheadSeconds * 1000) {
      throw new ValidationError(`The start is more than ${deps.settings.maxStartAheadSeconds} seconds ahead.`, [{ path: 'body.starts_at', message: 'too far ahead' }]);
    }
  }
  const request = await deps.store.insertRequest(
    {
      id: deps.ids(),
      requester_id: actor.auth.principalId,
      role_id: input.role,
      project_id: scope.projectId,
      dataset_id: scope.datasetId,
      justification,
      duration_seconds: input.duration_seconds,
      starts_at: startsAt ? startsAt.toISOString() : null,
      approvals_required: limit.approvals,
      created_at: now.toISOString(),
      // Unanswered requests lapse: an approval months later would rest on a justification nobody re-read.
      expires_at: new Date(now.getTime() + deps.settings.requestTtlSeconds * 1000).toISOString(),
    },
    (r) => ({
      notices: [requestNotice('access_request.created', r)],
      events: [
        {
          type: 'access_request.created',
          outcome: 'success',
          actorId: actor.auth.principalId,
          subjectId: actor.auth.principalId,
          meta: actor.meta,
          details: { request_id: r.id, role: r.role_id, project: r.project_id, dataset: r.dataset_id, duration_seconds: r.duration_seconds, approvals_required: r.approvals_required, expires_at: r.expires_at },
        },
      ],
    }),
  );
  deps.kick();
  return request;
}
