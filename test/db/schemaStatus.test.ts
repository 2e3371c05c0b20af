/**
 * Replicas that do not migrate (CUSTOS_MIGRATE_AT_START=false, a migration
 * Job migrates): the schema check on real, EMPTY databases, the wait that
 * ends only when a migrator has applied everything, and a server process
 * that serves nothing (readiness fails) until then, and stops at once when
 * the database holds a migration this version does not know.
 */
import { describe, expect, it } from 'vitest';
import { type Sql } from '../../src/db/client.ts';
import { awaitCurrentSchema, migrate, schemaStatus, type SchemaStatus } from '../../src/db/migrate.ts';
import { ConfigError, MigrationChecksumError } from '../../src/errors.ts';
import type { TestDatabase } from '../support/db.ts';
import { startServer } from '../support/servers.ts';
import { scratchDatabases } from '../support/scratchDatabases.ts';

const scratch = scratchDatabases('schema');
const { migrationsDir } = scratch;

/** An empty database (no template), and a client on it closed after the test. */
async function emptyDatabase(): Promise<{ url: string; sql: Sql }> {
  const url = await scratch.emptyDatabase();
  return { url, sql: scratch.client(url) };
}

const TWO = { '0001_a.sql': 'CREATE TABLE a (id int);', '0002_b.sql': 'CREATE TABLE b (id int);' };

describe('the schema check', () => {
  it('on an empty database every migration is pending; after a migrator, none', async () => {
    const { sql } = await emptyDatabase();
    const dir = await migrationsDir(TWO);
    expect(await schemaStatus(sql, { dir })).toEqual({ pending: [{ version: 1, name: 'a' }, { version: 2, name: 'b' }], current: 2 });
    // It changes nothing: no bookkeeping table either.
    expect((await sql`SELECT to_regclass('schema_migrations') AS t`)[0]!.t).toBeNull();
    await migrate(sql, { dir });
    expect(await schemaStatus(sql, { dir })).toEqual({ pending: [], current: 2 });
  });

  it('waits while migrations are pending and returns once another client has applied them', async () => {
    const { sql } = await emptyDatabase();
    const dir = await migrationsDir(TWO);
    await migrate(sql, { dir: await migrationsDir({ '0001_a.sql': TWO['0001_a.sql'] }) });
    const waits: SchemaStatus[] = [];
    let done = false;
    const waiting = awaitCurrentSchema(sql, { dir, intervalMs: 20, onWait: (s) => waits.push(s) }).finally(() => (done = true));
    // Several checks in a row (however long each takes on a loaded machine), and still waiting.
    await expect.poll(() => waits.length, { timeout: 10_000 }).toBeGreaterThan(2);
    expect(done).toBe(false);
    expect(waits.length).toBeGreaterThan(2);
    expect(waits[0]!.pending).toEqual([{ version: 2, name: 'b' }]);
    await migrate(sql, { dir });
    expect(await waiting).toEqual({ pending: [], current: 2 });
  });

  it('stops, without waiting, on an applied migration it has no file for (a newer version ran), or a changed file', async () => {
    const { sql } = await emptyDatabase();
    await migrate(sql, { dir: await migrationsDir(TWO) });
    const older = await migrationsDir({ '0001_a.sql': TWO['0001_a.sql'] });
    await expect(awaitCurrentSchema(sql, { dir: older, intervalMs: 20 })).rejects.toThrow(new ConfigError('Migration 2 (b) is applied but its file is missing.'));
    const changed = await migrationsDir({ ...TWO, '0002_b.sql': 'CREATE TABLE b (id bigint);' });
    await expect(awaitCurrentSchema(sql, { dir: changed, intervalMs: 20 })).rejects.toBeInstanceOf(MigrationChecksumError);
  });
});

describe('a server that does not migrate', () => {
  it('waits without listening until the schema is migrated, then serves', async () => {
    const { url, sql } = await emptyDatabase();
    const s = await startServer({ url } as TestDatabase, { env: { CUSTOS_MIGRATE_AT_START: 'false', CUSTOS_WORKERS: '1' }, ready: 'waiting for the schema to be migrated' });
    try {
      // Not ready: nothing listens yet.
      await expect(fetch(`${s.url}/readyz`)).rejects.toThrow();
      expect((await sql`SELECT to_regclass('schema_migrations') AS t`)[0]!.t).toBeNull();
      // What the migration Job does.
      await migrate(sql);
      const deadline = Date.now() + 20_000;
      while (!s.out().includes('custos is listening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(s.out()).toContain('custos is listening');
      expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
      // The server applied nothing itself.
      expect(s.out()).not.toContain('migration applied');
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
