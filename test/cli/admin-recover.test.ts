/**
 * `custos admin recover USERNAME` as a child process against the real
 * database of a running server: the first administrator's enrollment secret
 * expired unused (bootstrap refuses, since an administrator exists), the
 * host operator issues a fresh secret, printed once, and the administrator
 * enrolls with it over HTTP. Audited (actor null, via cli, the OS user) and
 * announced; refused for non-administrators and while another administrator
 * can sign in; redeeming it later follows the recovery rules.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin } from '../../src/auth/bootstrap.ts';
import { enrollPerson, personDirect, startTestApp, type TestApp } from '../support/app.ts';
import { runCustos } from '../support/cli.ts';

let app: TestApp;
let dir: string;

const cli = (args: string[]) => runCustos(args, { DATABASE_URL: app.db.url, CUSTOS_ENCRYPTION_KEY: randomBytes(32).toString('base64'), CUSTOS_DATA_DIR: dir });

const SECRET = /cen_[A-Za-z0-9_-]{43}/g;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'custos-recover-'));
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('custos admin recover', () => {
  it('gets the installation back when the first administrator never enrolled in time', async () => {
    const boot = await bootstrapAdmin(app.wired.auth);
    // The secret expires unused: enrolling is refused, and bootstrap will not run again.
    app.clock.advance((app.config.enrollmentTtlSeconds + 1) * 1000);
    const late = await app.call('POST', '/v1/auth/enroll', { body: { username: 'admin', enrollment_secret: boot.enrollment_secret, password: 'the first operator came too late' } });
    expect(late.status).toBe(401);
    const again = await cli(['bootstrap']);
    expect(again.code, again.stderr).toBe(3);

    const r = await cli(['admin', 'recover', 'admin']);
    expect(r.code, r.stderr).toBe(0);
    const printed = r.stdout.match(SECRET) ?? [];
    expect(printed).toHaveLength(1);
    expect(r.stderr).not.toMatch(SECRET);

    // Over HTTP: the printed secret enrolls the administrator, who holds the role.
    const adminP = await enrollPerson(app, { id: boot.principal_id, username: 'admin', secret: printed[0]! });
    const me = await app.call('GET', '/v1/me', { token: adminP.token });
    expect(me.body.roles).toContain('system-administrator');
    // The expired bootstrap secret stays dead (superseded as well now).
    const old = await app.call('POST', '/v1/auth/enroll', { body: { username: 'admin', enrollment_secret: boot.enrollment_secret, password: 'the first operator came too late' } });
    expect(old.status).toBe(401);

    // Audited: the host operator as actor (null), via cli, the OS user; the secret never.
    const [ev] = await app.db.sql`SELECT actor_id, subject_id, details FROM audit_events WHERE type = 'admin.recovery_issued' AND outcome = 'success'`;
    expect(ev).toMatchObject({ actor_id: null, subject_id: boot.principal_id, details: { via: 'cli', os_user: os.userInfo().username, username: 'admin' } });
    const [issued] = await app.db.sql`
      SELECT actor_id, details FROM audit_events WHERE type = 'enrollment.issued' AND subject_id = ${boot.principal_id} ORDER BY at DESC, id DESC LIMIT 1`;
    expect(issued).toMatchObject({ actor_id: null, details: { via: 'cli', reason: 'administrator recovery' } });
    expect((issued!.details as { superseded_ids: string[] }).superseded_ids).toHaveLength(1);
    const all = JSON.stringify(await app.db.sql`SELECT details FROM audit_events`);
    expect(all).not.toContain(printed[0]!);
  });

  it('a later recovery of an administrator who has factors removes them when redeemed', async () => {
    const [p] = await app.db.sql`SELECT id FROM principals WHERE name = 'admin'`;
    const r = await cli(['admin', 'recover', 'admin', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ principal_id: p!.id, username: 'admin' });
    await enrollPerson(app, { id: p!.id as string, username: 'admin', secret: out.secret, password: 'a second passphrase after recovery' });
    const [rec] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'auth.recovery' AND subject_id = ${p!.id}`;
    expect(rec!.details).toMatchObject({ removed: { authenticator_app: 1 } });
  });

  it('is refused for someone who is not an administrator, and while another administrator can sign in', async () => {
    const [p] = await app.db.sql`SELECT id FROM principals WHERE name = 'admin'`;
    await personDirect(app, 'ordinary');
    const notAdmin = await cli(['admin', 'recover', 'ordinary']);
    expect(notAdmin.code).toBe(3);
    expect(notAdmin.stdout).not.toMatch(SECRET);
    expect((await cli(['admin', 'recover', 'nobody'])).code).toBe(1);

    await personDirect(app, 'second-admin', [{ role: 'system-administrator' }]);
    const refused = await cli(['admin', 'recover', 'admin']);
    expect(refused.code).toBe(3);
    expect(refused.stdout).not.toMatch(SECRET);
    expect(refused.stderr).toContain('other administrator(s) can still sign in');
    const reasons = await app.db.sql`SELECT details->>'reason' AS reason FROM audit_events WHERE type = 'admin.recovery_issued' AND outcome = 'failure' ORDER BY at, id`;
    expect(reasons.map((x) => x.reason)).toEqual(['not an administrator', 'no such active person', 'another administrator can sign in']);
    // Nothing was issued by the refusals: the administrator's live secrets are none.
    expect(await app.db.sql`SELECT 1 FROM enrollments WHERE principal_id = ${p!.id} AND used_at IS NULL AND revoked_at IS NULL`).toHaveLength(0);
  });
});
