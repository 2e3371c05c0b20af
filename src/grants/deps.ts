/**
 * What the just-in-time workflow needs, and the checks its operations share:
 * the scope of a request, and whether someone holds a role in it.
 */
import type { AuditLog, RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import type { CatalogStore } from '../catalog/store.ts';
import type { Clock, IdGenerator } from '../clock.ts';
import { ForbiddenError, ValidationError } from '../errors.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { GrantStore } from './store.ts';

/** Dependencies of the workflow operations. */
export interface GrantDeps {
  store: GrantStore;
  catalog: CatalogStore;
  audit: AuditLog;
  clock: Clock;
  ids: IdGenerator;
  policy: PolicyHolder;
  settings: {
    /** Shortest justification or reason accepted, in characters. */
    minJustification: number;
    /** Hard cap on a break-glass activation, whatever the policy says. */
    breakGlassMaxSeconds: number;
    /** How far ahead a request may schedule its start. */
    maxStartAheadSeconds: number;
    /** How long a request stays open for approval. */
    requestTtlSeconds: number;
  };
  /** Asks the notifier to deliver queued notifications now. */
  kick: () => void;
}

/** Who acts, and from where. */
export interface Actor {
  auth: AuthContext;
  meta: RequestMeta;
}

/** A request's scope, resolved: the project whose roles count, and the dataset if it names one. */
export interface Scope {
  projectId: string | null;
  datasetId: string | null;
  /** The project roles are checked in. */
  project: string;
}

/** Resolves `{project}` or `{dataset}` (exactly one) against the catalog. */
export async function resolveScope(deps: GrantDeps, s: { project?: string | null | undefined; dataset?: string | null | undefined }, where = 'body'): Promise<Scope> {
  if ((s.project ?? null) === null === ((s.dataset ?? null) === null)) {
    throw new ValidationError('Name exactly one scope: a project or a dataset.', [{ path: `${where}.project`, message: 'exactly one of project, dataset' }]);
  }
  if (s.dataset) {
    const ds = await deps.catalog.getDataset(s.dataset);
    return { projectId: null, datasetId: ds.id, project: ds.project_id };
  }
  const p = await deps.catalog.getProject(s.project!);
  return { projectId: p.id, datasetId: null, project: p.id };
}

/**
 * Whether a principal holds one of `roles` in `project`: a standing
 * assignment in that project or organisation-wide, through inheritance too.
 * (Grants do not make anyone an approver.)
 */
export async function holdsRoleIn(deps: GrantDeps, principalId: string, roles: readonly string[], project: string): Promise<boolean> {
  return assignmentsInclude(deps, await deps.store.standingRoles(principalId), roles, project);
}

/** Whether standing `assignments` give one of `roles` in `project` (organisation-wide ones included, through inheritance). */
export function assignmentsInclude(deps: Pick<GrantDeps, 'policy'>, assignments: { role: string; project: string | null }[], roles: readonly string[], project: string): boolean {
  const closure = deps.policy.current().roleClosure;
  return assignments.some((a) => (a.project === null || a.project === project) && [...(closure.get(a.role) ?? [a.role])].some((r) => roles.includes(r)));
}

/** Refuses a too-short justification or reason. */
export function assertJustified(deps: GrantDeps, text: string, path: string): string {
  const t = text.trim();
  if (t.length < deps.settings.minJustification) {
    throw new ValidationError(`Give a justification of at least ${deps.settings.minJustification} characters.`, [{ path, message: `at least ${deps.settings.minJustification} characters` }]);
  }
  return t;
}

/** Only people take part in the workflow: services neither request nor approve. */
export async function assertPerson(deps: GrantDeps, actor: Actor): Promise<void> {
  if (actor.auth.via !== 'session') throw new ForbiddenError('Only people take part in access requests.');
  const p = await deps.catalog.getPrincipal(actor.auth.principalId);
  if (p.kind !== 'user') throw new ForbiddenError('Only people take part in access requests.');
}
