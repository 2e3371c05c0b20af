/**
 * The reach reads (GET /v1/principals/:id/access, GET /v1/datasets/:id/access):
 * load the live facts and the policy in force, let reach.ts compute, and
 * record who looked at whose access (an `audit.report` event, like the
 * other reviewer reads). A reviewer (`audit:read`) or a catalog reader
 * (`catalog:read`) may read anyone's; a person may read their own.
 */
import type { AuditLog, RequestMeta } from '../audit/log.ts';
import type { AuthContext } from '../auth/context.ts';
import type { CatalogStore } from '../catalog/store.ts';
import type { Clock } from '../clock.ts';
import type { DatasetFacts, PrincipalFacts } from '../engine/types.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { FactsStore } from './facts.ts';
import { datasetReach, principalReach, type ReachRow } from './reach.ts';

/** Dependencies of the reach reads. */
export interface ReachDeps {
  catalog: Pick<CatalogStore, 'listPrincipals' | 'listDatasets'>;
  facts: FactsStore;
  policy: PolicyHolder;
  clock: Clock;
  audit: Pick<AuditLog, 'record'>;
}

/** A reach answer: the rows, the policy version and the time they hold for. */
export interface Reach {
  rows: ReachRow[];
  policyVersion: string;
  at: Date;
}

const PAGE = 500;

/** Every id of a keyset-paginated catalog list. */
async function allIds(list: (page: { limit: number; cursor?: string | undefined }) => Promise<{ items: { id: string }[]; next_cursor: string | null }>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await list({ limit: PAGE, cursor });
    for (const item of page.items) ids.push(item.id);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return ids;
}

/** Whether the caller may read anyone's access. */
function readsAnyone(auth: AuthContext): boolean {
  return auth.permissions.has('audit:read') || auth.permissions.has('catalog:read');
}

/** Facts of every id that still exists at `at` (one deleted between the listing and the lookup is skipped). */
async function factsOf<T>(ids: readonly string[], lookup: (id: string) => Promise<T | undefined>): Promise<T[]> {
  const out: T[] = [];
  for (const f of await Promise.all(ids.map(lookup))) if (f) out.push(f);
  return out;
}

/** What a principal can read now. */
export async function readPrincipalReach(deps: ReachDeps, auth: AuthContext, principalId: string, meta: RequestMeta): Promise<Reach> {
  // Checked before anything is looked up: a refused caller learns nothing, not even whether the id exists.
  if (!readsAnyone(auth) && !(auth.via === 'session' && auth.principalId === principalId)) throw new ForbiddenError('Reading another principal’s access needs audit:read or catalog:read.');
  const at = deps.clock.now();
  const snapshot = deps.policy.current();
  const principal = await deps.facts.principal(principalId, at);
  if (!principal) throw new NotFoundError(`Principal ${principalId}`);
  const datasets = await factsOf<DatasetFacts>(await allIds((p) => deps.catalog.listDatasets(p)), (id) => deps.facts.dataset(id, at));
  const rows = principalReach(principal, datasets, snapshot, at.getTime());
  await deps.audit.record({
    type: 'audit.report',
    outcome: 'success',
    actorId: auth.principalId,
    subjectId: principalId,
    meta,
    details: { report: 'principal-access', principal: principalId, rows: rows.length, policy_version: snapshot.version },
  });
  return { rows, policyVersion: snapshot.version, at };
}

/** Who can read a dataset now (`identifiers`: only rows with identifier columns, listing those). */
export async function readDatasetReach(deps: ReachDeps, auth: AuthContext, datasetId: string, identifiers: boolean, meta: RequestMeta): Promise<Reach> {
  if (!readsAnyone(auth)) throw new ForbiddenError('Reading who can reach a dataset needs audit:read or catalog:read.');
  const at = deps.clock.now();
  const snapshot = deps.policy.current();
  const dataset = await deps.facts.dataset(datasetId, at);
  if (!dataset) throw new NotFoundError(`Dataset ${datasetId}`);
  const principals = await factsOf<PrincipalFacts>(await allIds((p) => deps.catalog.listPrincipals(p)), (id) => deps.facts.principal(id, at));
  const rows = datasetReach(dataset, principals, snapshot, at.getTime(), identifiers);
  await deps.audit.record({
    type: 'audit.report',
    outcome: 'success',
    actorId: auth.principalId,
    meta,
    details: { report: 'dataset-access', dataset: datasetId, identifiers, rows: rows.length, policy_version: snapshot.version },
  });
  return { rows, policyVersion: snapshot.version, at };
}
