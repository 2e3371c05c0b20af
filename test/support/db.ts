/**
 * A fresh database per test file, cloned from the migrated template in a few
 * milliseconds (CREATE DATABASE … TEMPLATE).
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';

/** A cloned database and a client on it. */
export interface TestDatabase {
  url: string;
  name: string;
  /** Superuser client on this database (set-up, inspection, tampering). */
  sql: Sql;
  /** The application's client: acting as custos_app, like the server. */
  appSql: Sql;
  /** Superuser client on the server's `postgres` database. */
  admin: Sql;
  drop(): Promise<void>;
}

/** Clones the template into a new database for this test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const template = inject('pgTemplate');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = createSql({ url: adminUrl, max: 1 });
  // Identifiers cannot be bound as parameters; both are generated here, not user input.
  await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  // Named apart from the application's pool (whose connections /metrics counts by name).
  const sql = createSql({ url, max: 5, applicationName: 'custos-test-superuser' });
  const appSql = createSql({ url, max: 5, role: 'custos_app' });
  return {
    url,
    name,
    sql,
    appSql,
    admin,
    async drop() {
      await Promise.all([sql.end({ timeout: 5 }), appSql.end({ timeout: 5 })]);
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 5 });
    },
  };
}

/**
 * Appends rows to a log the way the server does: through the chain append
 * function, into one chain per log and database made for the test. Columns
 * not given are NULL (or their defaults).
 */
export async function appendLogRows(sql: Sql, log: 'decision_log' | 'audit_events', rows: Record<string, unknown>[]): Promise<void> {
  const chain = log === 'decision_log' ? '00000000-0000-7000-8000-00000000d0d0' : '00000000-0000-7000-8000-00000000a0a0';
  await sql`INSERT INTO audit_chains (id, log, instance, started_at) VALUES (${chain}, ${log}, 'test-seed', now()) ON CONFLICT DO NOTHING`;
  const fn = log === 'decision_log' ? sql`custos_append_decisions` : sql`custos_append_audit`;
  await sql`SELECT ${fn}(${chain}::uuid, ${JSON.stringify(rows)}::text::jsonb)`;
}

/**
 * Runs `fn` while the application role may not run the audit append function
 * (revoked from PUBLIC, through which it has it, and from custos_app), so any
 * change whose audit event is appended fails for real, inside its own
 * transaction; the right is given back afterwards, whatever happened.
 */
export async function withAuditAppendRefused<T>(sql: Sql, fn: () => Promise<T>): Promise<T> {
  await sql`REVOKE EXECUTE ON FUNCTION custos_append_audit(uuid, jsonb) FROM PUBLIC, custos_app`;
  try {
    return await fn();
  } finally {
    await sql`GRANT EXECUTE ON FUNCTION custos_append_audit(uuid, jsonb) TO PUBLIC`;
  }
}
