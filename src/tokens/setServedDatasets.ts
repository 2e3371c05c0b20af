/**
 * An administrator sets the datasets a resource server serves: the list is
 * replaced and its audit event (before and after) appended in the same
 * transaction, or neither happens. Every replica drops its cached client
 * contexts on the change (NOTIFY), so introspection follows within a second.
 */
import type { AuditLog, RequestMeta } from '../audit/log.ts';
import type { ResourceServerStore } from './resourceServers.ts';

/** What {@link setServedDatasets} needs. */
export interface SetServedDatasetsDeps {
  resourceServers: ResourceServerStore;
  audit: AuditLog;
}

/** The list before and after the change. */
export interface SetServedDatasetsResult {
  principal_id: string;
  datasets: string[];
  before: string[];
}

/** Replaces the datasets a resource server serves, with its audit event in the same transaction. */
export async function setServedDatasets(
  deps: SetServedDatasetsDeps,
  options: { principalId: string; datasets: string[]; actorId: string; meta: RequestMeta },
): Promise<SetServedDatasetsResult> {
  // In the caller's order, so a refusal points at the entry it names; sorted in the result.
  const requested = [...new Set(options.datasets)];
  const datasets = [...requested].sort();
  return deps.resourceServers.transaction(async (tx) => {
    const { before } = await deps.resourceServers.replaceIn(tx, { principalId: options.principalId, datasets: requested, by: options.actorId });
    await deps.audit.recordIn(tx, {
      type: 'resource_server.datasets_set',
      outcome: 'success',
      actorId: options.actorId,
      subjectId: options.principalId,
      meta: options.meta,
      details: { before, after: datasets },
    });
    return { principal_id: options.principalId, datasets, before };
  });
}
