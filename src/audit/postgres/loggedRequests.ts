/**
 * Logged decision requests as a policy simulation replays them: what was
 * asked (principal, dataset, action, purpose, columns, context), in time
 * order, through a server-side cursor so memory stays bounded.
 */
import type { Sql } from '../../db/client.ts';
import type { LoggedRequest, LoggedRequestSource } from '../../policy/simulate.ts';

type Row = Record<string, any>;

/** Reads logged decision requests in time order through a cursor (bounded memory). */
export function createLoggedRequestSource(sql: Sql): LoggedRequestSource {
  return {
    async *batches({ from, to, limit, batchSize = 500 }) {
      const cursor = sql`
        SELECT id, at, principal_id, dataset_id, action, purpose, input->'columns' AS columns, input->'context' AS context
        FROM decision_log WHERE at >= ${from} AND at < ${to}
        ORDER BY at, id LIMIT ${limit}`.cursor(batchSize);
      for await (const rows of cursor) {
        yield rows.map(
          (r: Row): LoggedRequest => ({
            id: r.id,
            at: new Date(r.at),
            principalId: r.principal_id,
            datasetId: r.dataset_id,
            action: r.action,
            purpose: r.purpose,
            columns: r.columns ?? [],
            context: r.context && typeof r.context === 'object' && Object.keys(r.context).length ? r.context : undefined,
          }),
        );
      }
    },
  };
}
