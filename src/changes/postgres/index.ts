/**
 * PostgreSQL store of pending changes (migrations/0018) and the role-graph
 * reads and writes that dual control makes inside one transaction. Columns
 * are named explicitly; integrity errors become domain errors here.
 */
import { secretHoldersOf } from '../../auth/postgres/secrets.ts';
import type { IdGenerator } from '../../clock.ts';
import type { Sql, Tx } from '../../db/client.ts';
import type { ChangeStore, ChangeTx } from '../store.ts';
import { assignmentStatements } from './assignments.ts';
import { pendingChangeStatements, pendingChangeTxStatements } from './pendingChanges.ts';
import { policyVersionStatements } from './policyVersions.ts';
import { roleGraphStatements } from './roleGraph.ts';
import { transaction } from '../../db/transaction.ts';

/** The store's methods inside one transaction, composed from one file per aggregate. */
function bind(tx: Tx, ids: IdGenerator): ChangeTx {
  return {
    tx,
    ...roleGraphStatements(tx),
    async enrolled(principalId) {
      const [r] = await tx`SELECT 1 AS yes FROM passwords WHERE principal_id = ${principalId}`;
      return r !== undefined;
    },
    secretHoldersOf: (principalId, at) => secretHoldersOf(tx, principalId, at),
    ...assignmentStatements(tx, ids),
    ...policyVersionStatements(tx),
    ...pendingChangeTxStatements(tx),
  };
}

/** Builds the pending-change store. */
export function createChangeStore(sql: Sql, deps: { ids: IdGenerator }): ChangeStore {
  return {
    begin: (fn) => transaction(sql, (tx) => fn(bind(tx as unknown as Tx, deps.ids))) as never,
    ...pendingChangeStatements(sql),
  };
}
