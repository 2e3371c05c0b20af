/**
 * The one way a catalog change commits: its store writes and its audit
 * events in a single transaction ("every change with its trace", docs/security-model.md;
 * HIPAA §164.312(b) audit controls). If an event cannot be appended — the
 * log refuses it, the append function is not executable, the database is
 * read-only — the transaction rolls back and nothing of the change remains.
 */
import type { AuditEvent, AuditLog } from '../audit/log.ts';
import type { Sql, Tx } from '../db/client.ts';
import { transaction } from '../db/transaction.ts';

/** What a change made and the events that record it. */
export interface Change<T> {
  result: T;
  events: AuditEvent[];
}

/**
 * Runs `change` in one transaction (src/db/transaction.ts), appends its events with
 * `audit.recordIn(tx, …)` and commits both, or neither. A failed append is an
 * `AuditUnavailableError` (503); the change's own errors pass through.
 */
export async function commitWithEvent<T>(deps: { sql: Sql; audit: AuditLog }, change: (tx: Tx) => Promise<Change<T>>): Promise<T> {
  const committed = await transaction(deps.sql, async (tx) => {
    const { result, events } = await change(tx);
    // A failed append throws AuditUnavailableError (503) and rolls the change back.
    for (const event of events) await deps.audit.recordIn(tx, event);
    return { result };
  });
  return (committed as { result: T }).result;
}
