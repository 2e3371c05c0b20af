/**
 * Migration 0015 makes dataset token audiences unique. On a database whose
 * datasets already share an audience (the default urn:custos:dataset:<id>
 * counts), it stops and names them, changing nothing; once an operator gives
 * one of them another audience, it applies.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it, inject } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.ts';

const name = `m_${randomBytes(6).toString('hex')}`;
let admin: Sql | undefined;
let sql: Sql | undefined;
let dir: string | undefined;

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  if (admin) {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end({ timeout: 5 });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('stops on datasets that share an audience, naming them, and applies once they no longer do', async () => {
  admin = createSql({ url: inject('pgAdminUrl'), max: 1 });
  // Generated identifier, not input.
  await admin.unsafe(`CREATE DATABASE ${name}`);
  sql = createSql({ url: inject('pgAdminUrl').replace(/\/postgres$/, `/${name}`), max: 1 });
  // The schema as it was before 0015.
  dir = await mkdtemp(path.join(os.tmpdir(), 'custos-aud-'));
  for (const f of await readdir(MIGRATIONS_DIR)) if (/^00(0\d|1[0-4])_.*\.sql$/.test(f)) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
  await migrate(sql, { dir });
  await sql`INSERT INTO projects (id, name) VALUES ('p', 'P')`;
  const [owner] = await sql`INSERT INTO principals (id, kind, name, display_name) VALUES (gen_random_uuid(), 'user', 'o', 'O') RETURNING id`;
  const ds = (id: string, audience: string | null) =>
    sql!`INSERT INTO datasets (id, project_id, owner_id, purposes, columns, audience) VALUES (${id}, 'p', ${owner!.id}, ${['research']}, ${sql!.json([])}, ${audience})`;
  await ds('a', 'https://shared.example.org');
  await ds('b', 'https://shared.example.org');
  await ds('c', 'urn:custos:dataset:d');
  await ds('d', null);
  await ds('e', null);

  await expect(migrate(sql)).rejects.toThrow('datasets share a token audience: https://shared.example.org (a, b); urn:custos:dataset:d (c, d).');
  expect((await sql`SELECT to_regclass('resource_server_datasets') AS t`)[0]!.t).toBeNull();

  await sql`UPDATE datasets SET audience = 'https://b.example.org' WHERE id = 'b'`;
  await sql`UPDATE datasets SET audience = NULL WHERE id = 'c'`;
  expect((await migrate(sql)).applied.map((m) => m.version)).toContain(15);
  await expect(ds('f', 'urn:custos:dataset:e')).rejects.toMatchObject({ code: '23505', constraint_name: 'datasets_audience_key' });
});
