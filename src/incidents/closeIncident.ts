/**
 * Closes an incident with its breach determination. An impermissible use or
 * disclosure of PHI is presumed a breach unless a risk assessment of at
 * least four factors demonstrates a low probability that the PHI has been
 * compromised (45 CFR §164.402(2)); so every factor is a required text, and
 * `not_breach` stands only on an assessment that states that low
 * probability (`breach` on one that does not).
 *
 * No one alone: the determination is not made by someone the incident is
 * about. A reviewer whom the incident names among its principals, who is
 * the subject of a linked alert, or who decided anything (or sponsored a job
 * that did) on the incident's datasets within its window, may not close it
 * (refused, audited): an incident can be about a reviewer's own conduct
 * (their exports, say) without any decision of theirs in the log. The principal filter is
 * deliberately left out of that check: whoever opens an incident chooses it,
 * so it cannot be what clears them. Closing is a step-up action (route).
 * Once closed, an incident never changes (here, and by a database trigger).
 */
import type { RequestMeta } from '../audit/log.ts';
import { commitWithEvent } from '../catalog/commitWithEvent.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import { scopeFilter, viewOf, type IncidentDeps, type IncidentView } from './deps.ts';
import type { Assessment } from './store.ts';

/** Options of {@link closeIncident}. */
export interface CloseIncidentOptions {
  id: string;
  determination: 'breach' | 'not_breach';
  assessment: Assessment;
  actorId: string;
  meta: RequestMeta;
}

/** The refusal of a closer the incident is about. */
class InvolvedError extends ForbiddenError {
  readonly why: string;
  constructor(why: string) {
    super('You are part of this incident (in its scope or the subject of a linked alert): someone else must make the determination.');
    this.why = why;
  }
}

/** Closes the incident; the determination and its audit event commit together. */
export async function closeIncident(deps: IncidentDeps, o: CloseIncidentOptions): Promise<IncidentView> {
  const now = deps.clock.now();
  if (o.determination === 'not_breach' && !o.assessment.low_probability_of_compromise) {
    throw new ValidationError('A breach is presumed: `not_breach` needs an assessment that demonstrates a low probability that the PHI has been compromised.', [
      { path: 'body.assessment.low_probability_of_compromise', message: 'must be true for not_breach' },
    ]);
  }
  if (o.determination === 'breach' && o.assessment.low_probability_of_compromise) {
    throw new ValidationError('An assessment that demonstrates a low probability of compromise does not support `breach`.', [
      { path: 'body.assessment.low_probability_of_compromise', message: 'must be false for breach' },
    ]);
  }
  try {
    return await commitWithEvent(deps, async (tx) => {
      const w = deps.store.withTx(tx);
      // Locked: alerts linked concurrently are either seen here or refused there.
      const incident = await w.lock(o.id);
      if (!incident) throw new NotFoundError('Incident');
      if (incident.status === 'closed') throw new ConflictError('The incident is already closed; a closed incident does not change.');
      if (incident.principal_ids.includes(o.actorId)) throw new InvolvedError('named in the scope');
      const linked = await w.linkedSubjects(o.id);
      if (linked.includes(o.actorId)) throw new InvolvedError('subject of a linked alert');
      if (await deps.store.involves({ ...scopeFilter(incident), principalIds: [] }, o.actorId)) throw new InvolvedError('in the scope');
      const closed = await w.close(o.id, { at: now, by: o.actorId, determination: o.determination, assessment: o.assessment });
      const view = viewOf(closed, now);
      return {
        result: view,
        events: [
          {
            type: 'incident.closed',
            outcome: 'success',
            actorId: o.actorId,
            subjectId: o.id,
            meta: o.meta,
            details: { determination: o.determination, assessment: o.assessment, deadline_at: closed.deadline_at, closed_after_deadline: view.overdue },
          },
        ],
      };
    });
  } catch (err) {
    if (err instanceof InvolvedError) {
      await deps.audit.record({ type: 'incident.closed', outcome: 'failure', actorId: o.actorId, subjectId: o.id, meta: o.meta, details: { reason: 'involved', involvement: err.why } });
    }
    throw err;
  }
}
