/**
 * PostgreSQL implementation of the catalog, composed from one file per
 * aggregate. Every write names its columns explicitly (no `sql(body)` mass
 * assignment); PostgreSQL errors become domain errors here, so no SQL text
 * ever reaches a client.
 */
import type { Clock, IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import { utcDate } from '../classification.ts';
import type { CatalogStore } from '../store.ts';
import type { CatalogContext } from './common.ts';
import { datasetStatements } from './datasets.ts';
import { principalStatements } from './principals.ts';
import { projectStatements } from './projects.ts';
import { roleAssignmentStatements } from './roleAssignments.ts';
import { roleStatements } from './roles.ts';
import { vendorStatements } from './vendors.ts';
import { transaction } from '../../db/transaction.ts';

/**
 * Builds the catalog store over a postgres.js client, or over a transaction
 * (see `withTx`): there a multi-statement write becomes a savepoint, since
 * postgres.js opens no transaction inside another.
 */
export function createCatalogStore(sql: Sql, deps: { clock: Clock; ids: IdGenerator }, inTx = false): CatalogStore {
  const ctx: CatalogContext = {
    sql,
    deps,
    today: () => utcDate(deps.clock.now()),
    atomic: (fn) =>
      inTx ? (sql as unknown as Tx).savepoint((tx) => fn(tx as unknown as Sql)) : transaction(sql, (tx) => fn(tx as unknown as Sql)),
  };
  return {
    withTx(tx) {
      return createCatalogStore(tx as unknown as Sql, deps, true);
    },
    ...projectStatements(ctx),
    ...vendorStatements(ctx),
    ...principalStatements(ctx),
    ...roleStatements(ctx),
    ...roleAssignmentStatements(ctx),
    ...datasetStatements(ctx),
  };
}
