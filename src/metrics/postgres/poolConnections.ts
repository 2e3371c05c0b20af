/**
 * The database pool as PostgreSQL sees it. postgres.js exposes no live
 * counts of its connections, so each process names its pool's connections
 * (`application_name`, see createSql) and a scrape counts the server's
 * backends of that name in this database. (Their states are not counted: the
 * application role may not see other sessions' states without
 * pg_read_all_stats, which Custos does not ask for.)
 */
import type { Sql } from '../../db/client.ts';

/** How many connections this process's pool has open now (the counting query's own included). */
export async function poolConnections(sql: Sql): Promise<number> {
  const [r] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = current_setting('application_name')`;
  return r?.n ?? 0;
}
