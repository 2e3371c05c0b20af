/**
 * A reviewer's listing of alerts (filters, cursor pagination by first
 * occurrence then id). The look itself is recorded (`alerts.query`): who
 * looked at which alerts, as with every read of the logs.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { AlertFilter, AlertPage } from './alerts.ts';
import type { AlertDeps } from './deps.ts';

/** Options of {@link listAlerts}. */
export interface ListAlertsOptions {
  filter: AlertFilter;
  limit: number;
  cursor?: string | undefined;
  actorId: string;
  meta: RequestMeta;
}

/** One page of alerts, recorded. */
export async function listAlerts(deps: AlertDeps, o: ListAlertsOptions): Promise<AlertPage> {
  const page = await deps.alerts.list({ filter: o.filter, limit: o.limit, cursor: o.cursor });
  const filters: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o.filter)) if (v !== undefined) filters[k] = v;
  await deps.audit.record({ type: 'alerts.query', outcome: 'success', actorId: o.actorId, meta: o.meta, details: { filters, limit: o.limit, page: o.cursor ? 'next' : 'first', rows: page.items.length } });
  return page;
}
