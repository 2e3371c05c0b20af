/**
 * What the workflow's PostgreSQL files share: the context their statements
 * run over, and small helpers.
 */
import type { AuditLog } from '../../audit/log.ts';
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import type { Notification, Trace } from '../store.ts';

/** A row as postgres.js returns it: untyped until mapped. */
export type Row = Record<string, any>;
/** A client or a transaction: both run tagged queries. */
export type Q = Sql | Tx;

/** A timestamp as ISO 8601 (null stays null). */
export const iso = (d: Date | string | null): string | null => (d === null ? null : (d instanceof Date ? d : new Date(d)).toISOString());

/** Whether `id` can be a row id (anything else cannot name a row, so is not looked up). */
export const uuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

/** Options of the store; `webhook` says whether notifications are queued. */
export interface GrantStoreOptions {
  clock: Clock;
  ids: IdGenerator;
  webhook: boolean;
  audit: AuditLog;
}

/** What each aggregate's statements run over (see `createGrantStore`). */
export interface GrantContext {
  sql: Sql;
  o: GrantStoreOptions;
  /** Queues notifications in the transaction of the change (when a webhook is configured). */
  queue(tx: Tx, notes: Notification[]): Promise<void>;
  /** Appends the trace's audit events and queues its notifications, in the transaction of the change. */
  leave(tx: Tx, t: Trace): Promise<void>;
  /** Leaves what `trace` says of a stored row, in the transaction that stored it, and returns the row. */
  announce<T>(tx: Tx, stored: T, trace: (row: T) => Trace): Promise<T>;
}
