/**
 * The detection pipeline's PostgreSQL store (see ../store.ts).
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql } from '../../db/client.ts';
import type { Severity } from '../policy.ts';
import type { MonitorStore } from '../store.ts';
import { consumerLock } from './consumerLock.ts';
import { commitPass } from './passCommit.ts';
import { pendingChains, readChain, rebuildState } from './records.ts';

/**
 * Creates the store; `webhook`: queue a signed webhook notification per new
 * alert; `session`: where the lock's connection goes when not `sql`'s server
 * (a session advisory lock does not survive a transaction pooler).
 */
export function createMonitorStore(sql: Sql, o: { clock: Clock; ids: IdGenerator; webhook: boolean; session?: Sql }): MonitorStore {
  return {
    lock: () => consumerLock(o.session ?? sql),
    pending: () => pendingChains(sql),
    read: (chain, limit) => readChain(sql, chain, limit),
    rebuild: (windowMs) => rebuildState(sql, windowMs),
    commit: (pass) => commitPass(sql, pass, o),
    openAlertCounts: () => openAlertCounts(sql),
  };
}

/** Unresolved alerts (open or acknowledged) by severity, every severity present. */
export async function openAlertCounts(sql: Sql): Promise<Record<Severity, number>> {
  const out: Record<Severity, number> = { low: 0, medium: 0, high: 0, critical: 0 };
  for (const r of await sql`SELECT severity, count(*)::int AS n FROM alerts WHERE status <> 'resolved' GROUP BY severity`) out[r.severity as Severity] = r.n as number;
  return out;
}
