/**
 * Behind a transaction pooler the pool cannot act as the application role
 * through a `role` startup parameter (PgBouncer refuses unknown startup
 * parameters, and a SET ROLE would not outlive the transaction), so its login
 * must be that role. Checked at start: a pool acting as the owner would lose
 * the logs' append-only guard without anyone noticing.
 */
import { ConfigError } from '../errors.ts';
import type { Sql } from './client.ts';

/** Throws ConfigError unless the pool's connections act as `role` (undefined: CUSTOS_DB_ROLE=none, nothing to check). */
export async function checkPoolRole(sql: Sql, role: string | undefined): Promise<void> {
  if (!role) return;
  const [r] = await sql`SELECT current_user AS name`;
  const name = r!.name as string;
  if (name !== role) {
    throw new ConfigError(
      `Behind a transaction pooler (CUSTOS_DB_POOLER=transaction) the pool must log in as the application role ${role} (CUSTOS_DB_ROLE), ` +
        `but DATABASE_URL logs in as ${name}. Give ${role} LOGIN and a password and connect DATABASE_URL as ${role} (docs/kubernetes.md), or set CUSTOS_DB_ROLE=none (the logs then lose their append-only guard).`,
    );
  }
}
