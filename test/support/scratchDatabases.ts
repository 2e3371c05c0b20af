/**
 * Empty scratch databases (no template, not migrated) on the test run's
 * PostgreSQL, for tests of migration itself; every database, client and
 * folder made here is dropped, closed or removed by the hooks it registers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';

export interface ScratchDatabases {
  /** Creates an empty database and returns its URL. */
  emptyDatabase(): Promise<string>;
  /** A client on `url`, closed after the test. */
  client(url: string, max?: number): Sql;
  /** Writes `files` into a new temporary folder, removed after the test. */
  migrationsDir(files: Record<string, string>): Promise<string>;
}

/** Call at the top of a test file: `prefix` names its databases, application and folders. */
export function scratchDatabases(prefix: string): ScratchDatabases {
  let admin: Sql;
  const databases: string[] = [];
  const clients: Sql[] = [];
  const dirs: string[] = [];
  beforeAll(() => {
    admin = createSql({ url: inject('pgAdminUrl'), max: 1 });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end({ timeout: 5 })));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  afterAll(async () => {
    for (const name of databases) await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end({ timeout: 5 });
  });
  return {
    async emptyDatabase() {
      const name = `${prefix}_${randomBytes(6).toString('hex')}`;
      // Generated identifier, not input.
      await admin.unsafe(`CREATE DATABASE ${name}`);
      databases.push(name);
      return inject('pgAdminUrl').replace(/\/postgres$/, `/${name}`);
    },
    client(url, max = 2) {
      const sql = createSql({ url, max, applicationName: `custos-${prefix}-test` });
      clients.push(sql);
      return sql;
    },
    async migrationsDir(files) {
      const dir = await mkdtemp(path.join(os.tmpdir(), `custos-${prefix}-`));
      dirs.push(dir);
      for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
      return dir;
    },
  };
}
