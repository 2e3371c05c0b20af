/**
 * `custos admin add USERNAME` as a child process: a fresh installation's
 * first administrator cannot make anyone useful alone (a role for a person
 * whose enrollment secret they received waits for a second administrator),
 * so the host operator adds the second administrator; from then on the
 * second approves what the first proposes. Refused once two administrators
 * exist and for a taken name; audited (actor null, via cli) with the
 * person, role and secret in one transaction.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAdministrator } from '../../src/auth/addAdministrator.ts';
import { bootstrapAdmin } from '../../src/auth/bootstrap.ts';
import { enrollPerson, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { runCustos } from '../support/cli.ts';

const SECRET = /cen_[A-Za-z0-9_-]{43}/g;
let dir: string;

const cli = (app: TestApp, args: string[]) => runCustos(args, { DATABASE_URL: app.db.url, CUSTOS_ENCRYPTION_KEY: randomBytes(32).toString('base64'), CUSTOS_DATA_DIR: dir });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'custos-admin-add-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('custos admin add', () => {
  let app: TestApp;
  let ada: Person;
  beforeAll(async () => {
    app = await startTestApp();
    const boot = await bootstrapAdmin(app.wired.auth);
    ada = await enrollPerson(app, { id: boot.principal_id, username: 'admin', secret: boot.enrollment_secret });
    await app.wired.catalog.createProject({ id: 'onc', name: 'Oncology' });
  });
  afterAll(async () => app?.close());

  it('gives a fresh installation its second administrator, who then approves what the first proposes', async () => {
    // Alone, the first administrator's role for a person they created waits, and only they could approve it.
    const sam = await app.call('POST', '/v1/principals', { token: ada.token, body: { kind: 'user', name: 'sam' } });
    expect(sam.status).toBe(201);
    const pending = await app.call('POST', '/v1/role-assignments', { token: ada.token, body: { principal_id: sam.body.id, role_id: 'data-scientist', project_id: 'onc' } });
    expect(pending.status, JSON.stringify(pending.body)).toBe(202);
    expect((await app.call('POST', `/v1/changes/${pending.body.id}/approve`, { token: ada.token, body: {} })).status).toBe(403);

    const r = await cli(app, ['admin', 'add', 'bea', '--display-name', 'Bea Second', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ username: 'bea' });
    expect(r.stdout.match(SECRET)).toHaveLength(1);
    const bea = await enrollPerson(app, { id: out.principal_id, username: 'bea', secret: out.secret });
    expect((await app.call('GET', '/v1/me', { token: bea.token })).body.roles).toContain('system-administrator');

    const approved = await app.call('POST', `/v1/changes/${pending.body.id}/approve`, { token: bea.token, body: {} });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const held = await app.db.sql`SELECT role_id, project_id FROM role_assignments WHERE principal_id = ${sam.body.id}`;
    expect(held).toEqual([{ role_id: 'data-scientist', project_id: 'onc' }]);

    const [ev] = await app.db.sql`SELECT actor_id, subject_id, details FROM audit_events WHERE type = 'admin.added' AND outcome = 'success'`;
    expect(ev).toMatchObject({ actor_id: null, subject_id: out.principal_id, details: { via: 'cli', os_user: os.userInfo().username, username: 'bea', role: 'system-administrator' } });
    expect(JSON.stringify(await app.db.sql`SELECT details FROM audit_events`)).not.toContain(out.secret);
  });

  it('refuses a third administrator and a taken name, audited, with nothing created', async () => {
    const before = await app.db.sql`SELECT count(*)::int AS n FROM principals`;
    const third = await cli(app, ['admin', 'add', 'carl']);
    expect(third.code).toBe(3);
    expect(third.stderr).toContain('2 administrators exist');
    expect(third.stdout).not.toMatch(SECRET);
    const taken = await cli(app, ['admin', 'add', 'sam']);
    expect(taken.code).toBe(3);
    expect(taken.stderr).toContain('exists already');
    expect(await app.db.sql`SELECT count(*)::int AS n FROM principals`).toEqual(before);
    const reasons = await app.db.sql`SELECT details->>'reason' AS reason FROM audit_events WHERE type = 'admin.added' AND outcome = 'failure' ORDER BY at, id`;
    expect(reasons.map((x) => x.reason)).toEqual(['two administrators exist', 'name taken']);
  });
});

describe('adding administrators at once', () => {
  it('three at once make one second administrator, not three', async () => {
    const app = await startTestApp();
    try {
      await bootstrapAdmin(app.wired.auth);
      // In one process, so both transactions are open at the same moment.
      const add = (username: string) => addAdministrator(app.wired.catalogOps, { username, osUser: 'ops', host: 'h' }).then(() => 'added', (e: Error) => e.name);
      const both = await Promise.all([add('x1'), add('x2'), add('x3')]);
      expect(both.sort()).toEqual(['ConflictError', 'ConflictError', 'added']);
      const [{ n }]: any[] = await app.db.sql`SELECT count(*)::int AS n FROM role_assignments WHERE role_id = 'system-administrator'`;
      expect(n).toBe(2);
    } finally {
      await app.close();
    }
  });

  it('is refused before any administrator exists (bootstrap comes first)', async () => {
    const app = await startTestApp();
    try {
      const r = await cli(app, ['admin', 'add', 'early']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('custos bootstrap');
      expect(await app.db.sql`SELECT 1 FROM principals WHERE name = 'early'`).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
