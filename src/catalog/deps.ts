/**
 * What the catalog's change operations need: the stores and settings the
 * authentication operations already carry (catalog, sessions, enrollments,
 * client credentials, audit log, clock, ids), plus the client that opens the
 * one transaction a change and its audit event share.
 */
import type { AuthDeps } from '../auth/deps.ts';
import type { Sql } from '../db/client.ts';

/** Dependencies of the catalog's change operations. */
export interface CatalogDeps extends AuthDeps {
  /** Opens the transaction of each change (`transaction(sql, …)`, src/db/transaction.ts). */
  sql: Sql;
}
