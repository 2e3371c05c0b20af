/**
 * The forward-only migration runner against real, EMPTY databases on the test
 * server (not the migrated template): ordering, checksums, immutability,
 * atomicity of a failing file, and concurrent migrators.
 */
import { createHash } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Sql } from '../../src/db/client.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { ConfigError, MigrationChecksumError } from '../../src/errors.ts';
import { scratchDatabases } from '../support/scratchDatabases.ts';

const { emptyDatabase, client, migrationsDir } = scratchDatabases('migrate');

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function recorded(sql: Sql): Promise<{ version: number; name: string; checksum: string }[]> {
  return sql<{ version: number; name: string; checksum: string }[]>`SELECT version, name, checksum FROM schema_migrations ORDER BY version`;
}

async function tableExists(sql: Sql, table: string): Promise<boolean> {
  const [row] = await sql<{ t: string | null }[]>`SELECT to_regclass(${table})::text AS t`;
  return row?.t != null;
}

const A = 'CREATE TABLE a (id integer PRIMARY KEY);\n';
// Depends on 0001: fails if run out of order.
const B = 'CREATE TABLE b (id integer PRIMARY KEY REFERENCES a(id));\nINSERT INTO a VALUES (1);\nINSERT INTO b VALUES (1);\n';

describe('migrate() on an empty database', () => {
  it('applies the files in order, records each with its sha256, and is idempotent', async () => {
    const sql = client(await emptyDatabase());
    // Written in reverse order, plus a non-.sql file that must be ignored.
    const dir = await migrationsDir({ '0002_b.sql': B, '0001_a.sql': A, 'README.md': 'not a migration' });
    const seen: number[] = [];

    const first = await migrate(sql, { dir, onApply: (f) => seen.push(f.version) });
    expect(first).toEqual({
      applied: [
        { version: 1, name: 'a' },
        { version: 2, name: 'b' },
      ],
      current: 2,
    });
    expect(seen).toEqual([1, 2]);
    expect(await recorded(sql)).toEqual([
      { version: 1, name: 'a', checksum: sha256(A) },
      { version: 2, name: 'b', checksum: sha256(B) },
    ]);
    expect(await sql`SELECT id FROM b`).toEqual([{ id: 1 }]);

    const second = await migrate(sql, { dir, onApply: (f) => seen.push(f.version) });
    expect(second).toEqual({ applied: [], current: 2 });
    expect(seen).toEqual([1, 2]);
    expect(await recorded(sql)).toHaveLength(2);
  });

  it('applies a newly added file on the next run, and only that one', async () => {
    const sql = client(await emptyDatabase());
    const dir = await migrationsDir({ '0001_a.sql': A });
    expect((await migrate(sql, { dir })).applied).toEqual([{ version: 1, name: 'a' }]);
    await writeFile(path.join(dir, '0002_b.sql'), B);
    expect(await migrate(sql, { dir })).toEqual({ applied: [{ version: 2, name: 'b' }], current: 2 });
  });

  it('refuses to run when an applied file was edited, naming the version', async () => {
    const sql = client(await emptyDatabase());
    const dir = await migrationsDir({ '0001_a.sql': A, '0002_b.sql': B });
    await migrate(sql, { dir });
    await writeFile(path.join(dir, '0001_a.sql'), A + '-- a harmless-looking edit\n');

    const err = await migrate(sql, { dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MigrationChecksumError);
    expect(err).toMatchObject({ code: 'migration_checksum_mismatch' });
    expect((err as Error).message).toContain('0001');
    expect((err as Error).message).toContain('(a)');
    // Nothing was re-applied or re-recorded.
    expect(await recorded(sql)).toEqual([
      { version: 1, name: 'a', checksum: sha256(A) },
      { version: 2, name: 'b', checksum: sha256(B) },
    ]);
  });

  it('refuses to run when a pending migration comes with an edited applied one (nothing new is applied)', async () => {
    const sql = client(await emptyDatabase());
    const dir = await migrationsDir({ '0001_a.sql': A });
    await migrate(sql, { dir });
    await writeFile(path.join(dir, '0001_a.sql'), A.replace('integer', 'bigint'));
    await writeFile(path.join(dir, '0002_b.sql'), B);
    await expect(migrate(sql, { dir })).rejects.toBeInstanceOf(MigrationChecksumError);
    expect(await tableExists(sql, 'b')).toBe(false);
    expect((await recorded(sql)).map((r) => r.version)).toEqual([1]);
  });

  it('refuses to run when an applied file was deleted', async () => {
    const sql = client(await emptyDatabase());
    const dir = await migrationsDir({ '0001_a.sql': A, '0002_b.sql': B });
    await migrate(sql, { dir });
    await unlink(path.join(dir, '0002_b.sql'));
    const err = await migrate(sql, { dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/Migration 2 \(b\).*missing/);
  });

  it.each(['1_a.sql', '0001-a.sql', '0001_A.sql', '00001_a.sql', '0001_.sql', '0001 a.sql'])('rejects a badly named file: %s', async (bad) => {
    const sql = client(await emptyDatabase());
    const dir = await migrationsDir({ '0001_a.sql': A, [bad]: 'SELECT 1;' });
    const err = await migrate(sql, { dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(bad);
    // Validation happens before anything is applied.
    expect(await tableExists(sql, 'a')).toBe(false);
  });

  it('rejects two files with the same version', async () => {
    const dir = await migrationsDir({ '0001_a.sql': A, '0001_b.sql': 'SELECT 1;' });
    await expect(readMigrations(dir)).rejects.toBeInstanceOf(ConfigError);
  });

  it('rolls a failing migration back entirely and applies nothing after it', async () => {
    const sql = client(await emptyDatabase());
    const dir = await migrationsDir({
      '0001_a.sql': A,
      '0002_broken.sql': 'CREATE TABLE broken (id integer);\nINSERT INTO broken VALUES (1);\nSELECT no_such_column FROM broken;\n',
      '0003_c.sql': 'CREATE TABLE c (id integer);\n',
    });
    const seen: number[] = [];
    await expect(migrate(sql, { dir, onApply: (f) => seen.push(f.version) })).rejects.toMatchObject({ code: '42703' });

    expect(seen).toEqual([1]);
    expect(await recorded(sql)).toEqual([{ version: 1, name: 'a', checksum: sha256(A) }]);
    expect(await tableExists(sql, 'a')).toBe(true);
    expect(await tableExists(sql, 'broken')).toBe(false);
    expect(await tableExists(sql, 'c')).toBe(false);

    // Once fixed, the run resumes at the failed file.
    await writeFile(path.join(dir, '0002_broken.sql'), 'CREATE TABLE broken (id integer);\n');
    expect((await migrate(sql, { dir })).applied.map((m) => m.version)).toEqual([2, 3]);
  });

  it('two migrators started at once on a fresh database apply each file exactly once', async () => {
    const dir = await migrationsDir({
      // The sleep holds the lock so the other migrator really has to wait for it.
      '0001_counter.sql': 'CREATE TABLE counter (n integer NOT NULL);\nSELECT pg_sleep(0.2);\n',
      '0002_count.sql': 'INSERT INTO counter (n) VALUES (1);\n',
      '0003_count_again.sql': 'INSERT INTO counter (n) VALUES (2);\n',
    });
    // Several rounds: the start of migrate() (CREATE TABLE IF NOT EXISTS) is racy too.
    for (let round = 0; round < 4; round++) {
      const url = await emptyDatabase();
      const one = client(url, 1);
      const two = client(url, 1);
      const [r1, r2] = await Promise.all([migrate(one, { dir }), migrate(two, { dir })]);

      expect(r1.current).toBe(3);
      expect(r2.current).toBe(3);
      const appliedBy = [...r1.applied, ...r2.applied].map((m) => m.version).sort();
      expect(appliedBy).toEqual([1, 2, 3]);
      expect(await one`SELECT n FROM counter ORDER BY n`).toEqual([{ n: 1 }, { n: 2 }]);
      expect((await recorded(two)).map((r) => r.version)).toEqual([1, 2, 3]);
    }
  });

  it('many migrators starting at once on a fresh database all succeed (the bookkeeping table is created once)', async () => {
    const dir = await migrationsDir({ '0001_a.sql': A, '0002_b.sql': B });
    const url = await emptyDatabase();
    const migrators = Array.from({ length: 8 }, () => client(url, 1));
    // Connected first, so the statements really arrive together.
    await Promise.all(migrators.map((m) => m`SELECT 1`));
    const failures: string[] = [];
    // The race is narrow: repeat it, back to an empty database each time.
    for (let round = 0; round < 80 && failures.length === 0; round++) {
      await migrators[0]!`DROP TABLE IF EXISTS b, a, schema_migrations`;
      const results = await Promise.allSettled(migrators.map((m) => migrate(m, { dir })));
      for (const r of results) {
        if (r.status === 'rejected') failures.push(`round ${round}: ${(r.reason as { code?: string }).code} ${(r.reason as Error).message}`);
      }
      if (failures.length) break;
      expect(results.flatMap((r) => (r.status === 'fulfilled' ? r.value.applied.map((a) => a.version) : [])).sort()).toEqual([1, 2]);
      expect((await recorded(migrators[0]!)).map((r) => r.version)).toEqual([1, 2]);
    }
    expect(failures).toEqual([]);
  });
});

describe('the shipped migrations', () => {
  it('apply cleanly to a fresh empty database, and a second run applies nothing', async () => {
    const sql = client(await emptyDatabase());
    const files = await readMigrations();
    expect(files.length).toBeGreaterThan(0);
    // Versions are contiguous from 1.
    const versions = files.map((f) => f.version);
    const gaps = Array.from({ length: versions[versions.length - 1]! }, (_, i) => i + 1).filter((v) => !versions.includes(v));
    expect(gaps).toEqual([]);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));

    const r = await migrate(sql);
    expect(r.applied.map((m) => m.version)).toEqual(files.map((f) => f.version));
    expect(r.current).toBe(files[files.length - 1]!.version);
    expect(await recorded(sql)).toEqual(files.map((f) => ({ version: f.version, name: f.name, checksum: f.checksum })));
    expect(await tableExists(sql, 'principals')).toBe(true);

    expect((await migrate(sql)).applied).toEqual([]);
  });
});
