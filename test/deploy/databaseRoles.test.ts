/**
 * The database roles as the CloudNativePG bootstrap leaves them
 * (deploy/kubernetes/database/cluster.yaml): an owner without CREATEROLE or
 * superuser, allowed by `postInitSQL` to grant the application role. On the
 * embedded PostgreSQL, with the manifest's own statements: the migrations run
 * as that owner on an empty database (what the migration Job does), and a
 * pool acting as the application role may append to the logs but not change
 * them.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { KUBERNETES_DIR, readYaml } from './manifests.ts';

const initdb = (readYaml(path.join(KUBERNETES_DIR, 'database/cluster.yaml'))[0] as { spec: { bootstrap: { initdb: { owner: string; postInitSQL: string[] } } } }).spec.bootstrap.initdb;
const admin = createSql({ url: inject('pgAdminUrl'), max: 1 });
const password = randomBytes(12).toString('hex');
const clients: Sql[] = [];
const made: { owner: string; database: string }[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end({ timeout: 5 })));
  for (const m of made) {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${m.database} WITH (FORCE)`);
    await admin.unsafe(`DROP ROLE IF EXISTS ${m.owner}`);
  }
  await admin.end({ timeout: 5 });
});

/** What initdb makes: a login role owning an empty database, nothing more (generated names, not input); and a client as it. */
async function bootstrapOwner(): Promise<{ owner: string; url: string; sql: Sql }> {
  const owner = `owner_${randomBytes(4).toString('hex')}`;
  const database = `k_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`CREATE ROLE ${owner} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEROLE NOCREATEDB`);
  made.push({ owner, database });
  await admin.unsafe(`CREATE DATABASE ${database} OWNER ${owner}`);
  const u = new URL(inject('pgAdminUrl'));
  u.username = owner;
  u.password = password;
  u.pathname = `/${database}`;
  const sql = createSql({ url: u.toString(), max: 2 });
  clients.push(sql);
  return { owner, url: u.toString(), sql };
}

describe('the CloudNativePG bootstrap roles', () => {
  it('let an owner without CREATEROLE migrate an empty database, and the application role only append to the logs', async () => {
    const { owner, url, sql: asOwner } = await bootstrapOwner();
    // Then postInitSQL, as the superuser, with the manifest's owner replaced by this test's. The
    // application role is cluster-wide and exists already on this server (the template's migrations made it).
    const [exists] = await admin`SELECT 1 AS hit FROM pg_roles WHERE rolname = 'custos_app'`;
    expect(exists).toBeDefined();
    expect(initdb.postInitSQL[0]).toBe('CREATE ROLE custos_app NOLOGIN');
    const grant = initdb.postInitSQL[1]!.replace(` TO ${initdb.owner} `, ` TO ${owner} `);
    expect(grant).toBe(`GRANT custos_app TO ${owner} WITH ADMIN OPTION`);
    await admin.unsafe(grant);
    const [who] = await asOwner`SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user`;
    expect(who).toEqual({ rolsuper: false, rolcreaterole: false });
    const m = await migrate(asOwner);
    expect(m.applied.length).toBe(m.current);
    // The server's pool: the owner's login, acting as custos_app.
    const app = createSql({ url, max: 1, role: 'custos_app' });
    clients.push(app);
    expect((await app`SELECT current_user AS r`)[0]!.r).toBe('custos_app');
    await expect(app`DELETE FROM decision_log`).rejects.toMatchObject({ code: '42501' });
    await expect(app`UPDATE audit_events SET type = type`).rejects.toMatchObject({ code: '42501' });
    await app`SELECT count(*) FROM decision_log`;
  });

  it('without the grant, the same owner cannot migrate (what postInitSQL is for)', async () => {
    const { sql } = await bootstrapOwner();
    await expect(migrate(sql)).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('custos_app') });
  });
});
