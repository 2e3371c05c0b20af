/**
 * Expiry of a pending change, checked at use against the server clock (not
 * by a sweeper): the first action on a change past its time records it as
 * expired, with its audit event, in one transaction.
 */
import type { RequestMeta } from '../audit/log.ts';
import type { ChangeDeps } from './deps.ts';
import type { PendingChange } from './store.ts';

/** Records `change` as expired when its time has passed; true if it has (now or before). */
export async function expireChange(deps: ChangeDeps, o: { change: PendingChange; meta: RequestMeta }): Promise<boolean> {
  const now = deps.clock.now();
  if (o.change.status === 'expired') return true;
  if (o.change.status !== 'pending' || new Date(o.change.expires_at).getTime() > now.getTime()) return false;
  await deps.store.begin(async (t) => {
    const c = await t.lockChange(o.change.id);
    if (!c || c.status !== 'pending') return;
    await t.decide(c.id, { status: 'expired', by: null, at: now, reason: 'nobody approved it in time' });
    await deps.audit.recordIn(t.tx, { type: 'change.expired', outcome: 'info', actorId: null, meta: o.meta, details: { change_id: c.id, kind: c.kind, target: c.target, proposed_by: c.proposer_id, expires_at: c.expires_at } });
  });
  return true;
}
