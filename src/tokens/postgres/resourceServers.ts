/**
 * PostgreSQL storage of the datasets each resource server serves.
 */
import type { Sql } from '../../db/client.ts';
import { NotFoundError, ValidationError } from '../../errors.ts';
import type { ResourceServerStore } from '../resourceServers.ts';
import { transaction } from '../../db/transaction.ts';

/** Builds the resource-server store. */
export function createResourceServerStore(sql: Sql): ResourceServerStore {
  return {
    transaction(fn) {
      return transaction(sql, fn) as Promise<Awaited<ReturnType<typeof fn>>>;
    },
    async served(principalId) {
      const rows = await sql`SELECT dataset_id FROM resource_server_datasets WHERE principal_id = ${principalId} ORDER BY dataset_id`;
      return rows.map((r) => r.dataset_id as string);
    },
    async replaceIn(tx, { principalId, datasets, by }) {
      // The principal's row lock serialises two administrators replacing the same list.
      const [p] = await tx`SELECT kind FROM principals WHERE id = ${principalId} FOR UPDATE`;
      if (!p) throw new NotFoundError(`Principal ${principalId}`);
      if (p.kind !== 'service') throw new ValidationError('Only a service principal serves datasets.', [{ path: 'params.id', message: 'not a service' }]);
      const before = await tx`DELETE FROM resource_server_datasets WHERE principal_id = ${principalId} RETURNING dataset_id`;
      if (datasets.length) {
        const known = await tx`SELECT id FROM datasets WHERE id = ANY(${datasets}::text[])`;
        const found = new Set(known.map((r) => r.id as string));
        const missing = datasets.findIndex((d) => !found.has(d));
        if (missing !== -1) throw new ValidationError('A dataset in the list does not exist.', [{ path: `body.datasets.${missing}`, message: 'unknown dataset' }]);
        await tx`
          INSERT INTO resource_server_datasets (principal_id, dataset_id, created_by)
          SELECT ${principalId}, d, ${by} FROM unnest(${datasets}::text[]) AS d`;
      }
      return { before: before.map((r) => r.dataset_id as string).sort() };
    },
  };
}
