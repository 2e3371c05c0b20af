/**
 * PostgreSQL storage of the just-in-time workflow. Approvals lock their
 * request row, so concurrent approvals are counted exactly once each and the
 * grant is created exactly once. Every write appends its audit events with
 * `recordIn` in its own transaction: the change and its trace commit
 * together, and a failed append rolls the change back (503, fail closed).
 */
import { secretHoldersOf } from '../../auth/postgres/secrets.ts';
import type { Sql, Tx } from '../../db/client.ts';
import type { GrantStore, Notification, Trace } from '../store.ts';
import { factsVia } from './approverFacts.ts';
import type { GrantContext, GrantStoreOptions } from './common.ts';
import { grantStatements } from './grants.ts';
import { lifecycleStatements } from './lifecycle.ts';
import { queueNotifications } from './outbox.ts';
import { requestStatements } from './requests.ts';

/** The outbox's delivery side, for the notifier. */
export { createOutboxStore } from './outbox.ts';

/** Creates the store, composed from one file per aggregate; `webhook` says whether notifications are queued. */
export function createGrantStore(sql: Sql, o: GrantStoreOptions): GrantStore {
  const queue = (tx: Tx, notes: Notification[]) => queueNotifications(tx, notes, o);

  /** Appends the trace's audit events and queues its notifications, in the transaction of the change. */
  async function leave(tx: Tx, t: Trace): Promise<void> {
    // No change without its audit event: a failed append (AuditUnavailableError, 503) rolls the transaction back.
    for (const e of t.events) await o.audit.recordIn(tx, e);
    await queue(tx, t.notices);
  }

  /** Leaves what `trace` says of a stored row, in the transaction that stored it, and returns the row. */
  async function announce<T>(tx: Tx, stored: T, trace: (row: T) => Trace): Promise<T> {
    await leave(tx, trace(stored));
    return stored;
  }

  const ctx: GrantContext = { sql, o, queue, leave, announce };
  return {
    notifying: o.webhook,
    ...requestStatements(ctx),
    secretHoldersOf: (principalId, at) => secretHoldersOf(sql, principalId, at),
    ...grantStatements(ctx),
    ...lifecycleStatements(ctx),

    standingRoles: (principalId) => factsVia(sql).standingRoles(principalId),

    approverFacts: factsVia(sql),
  };
}
