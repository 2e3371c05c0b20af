/**
 * Authentication changes commit with their audit events or not at all
 * ("every change with its trace", docs/security-model.md), over real HTTP: the database
 * is made to refuse one event type at a time (a trigger on audit_events),
 * and the change that event belongs to must not have happened — issuing an
 * enrollment secret (and revoking the older one), a recovery's removal of
 * factors, adding a WebAuthn credential, removing a factor, replacing
 * recovery codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { SoftAuthenticator } from '../support/softAuthenticator.ts';

let app: TestApp;
let admin: Person;

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS: '1000', CUSTOS_LOCKOUT_SOURCE_ATTEMPTS: '100000' });
  admin = await adminOf(app);
  // As the database owner: a switch that makes appending an event of a given type fail.
  await app.db.sql`CREATE TABLE test_refused_events (type text PRIMARY KEY)`;
  await app.db.sql.unsafe(`
    CREATE FUNCTION test_refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM test_refused_events WHERE type = NEW.type) THEN RAISE EXCEPTION 'event % refused by the test', NEW.type; END IF;
      RETURN NEW;
    END $$`);
  await app.db.sql`CREATE TRIGGER test_refuse_event BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION test_refuse_event()`;
});
afterAll(async () => app?.close());

async function refusing<T>(type: string, fn: () => Promise<T>): Promise<T> {
  await app.db.sql`INSERT INTO test_refused_events (type) VALUES (${type})`;
  try {
    return await fn();
  } finally {
    await app.db.sql`DELETE FROM test_refused_events WHERE type = ${type}`;
  }
}

const n = async (q: Promise<{ n: number }[]>) => (await q)[0]!.n;

describe('no authentication change without its audit event', () => {
  it('factor changes: a credential, a removal and new recovery codes all roll back with their event', async () => {
    const fay = await personDirect(app, 'fay');
    const key = new SoftAuthenticator({ origin: app.config.webauthn.origins[0]!, rpId: app.config.webauthn.rpId });
    const register = async () => {
      const o = await app.call('POST', '/v1/me/webauthn/registration/options', { token: fay.token });
      expect(o.status, JSON.stringify(o.body)).toBe(200);
      return app.call('POST', '/v1/me/webauthn/registration/verify', { token: fay.token, body: { name: 'key', response: key.create(o.body).response } });
    };
    const credentials = () => n(app.db.sql`SELECT count(*)::int AS n FROM webauthn_credentials WHERE principal_id = ${fay.id}`);

    const added = await refusing('factor.added', register);
    expect(added.status).toBeGreaterThanOrEqual(500);
    expect(await credentials()).toBe(0);
    const ok = await register();
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(await credentials()).toBe(1);

    const removal = await refusing('factor.removed', () => app.call('DELETE', `/v1/me/factors/${ok.body.credential_id}`, { token: fay.token }));
    expect(removal.status).toBeGreaterThanOrEqual(500);
    expect(await credentials()).toBe(1);

    const codes = await refusing('recovery_codes.generated', () => app.call('POST', '/v1/me/recovery-codes', { token: fay.token }));
    expect(codes.status).toBeGreaterThanOrEqual(500);
    expect(await n(app.db.sql`SELECT count(*)::int AS n FROM recovery_codes WHERE principal_id = ${fay.id}`)).toBe(0);
  });

  it('enrollment: an issue and a recovery roll back with their events; the secrets stay as they were', async () => {
    const gus = await personDirect(app, 'gus');
    const second = await personDirect(app, 'second-admin', [{ role: 'system-administrator' }]);
    // Gus has enrolled, so a new secret is a recovery: proposed by one administrator, issued on a second one's approval.
    const issue = async () => {
      await loginAs(app, admin);
      const proposed = await app.call('POST', `/v1/principals/${gus.id}/enrollment`, { token: admin.token });
      expect(proposed.status, JSON.stringify(proposed.body)).toBe(202);
      await loginAs(app, second);
      return app.call('POST', `/v1/changes/${proposed.body.id}/approve`, { token: second.token, body: {} });
    };
    const first = await issue();
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const rows = () => n(app.db.sql`SELECT count(*)::int AS n FROM enrollments WHERE principal_id = ${gus.id}`);
    const before = await rows();

    const refusedIssue = await refusing('enrollment.issued', issue);
    expect(refusedIssue.status).toBeGreaterThanOrEqual(500);
    expect(await rows()).toBe(before);

    // The recovery's event refused: nothing is removed and the secret is not spent.
    const redeem = () => app.call('POST', '/v1/auth/enroll', { body: { username: 'gus', enrollment_secret: first.body.enrollment.secret, password: 'a new passphrase for him' } });
    const refusedRecovery = await refusing('auth.recovery', redeem);
    expect(refusedRecovery.status).toBeGreaterThanOrEqual(500);
    expect(await n(app.db.sql`SELECT count(*)::int AS n FROM totp_factors WHERE principal_id = ${gus.id}`)).toBe(1);
    expect(await n(app.db.sql`SELECT count(*)::int AS n FROM enrollments WHERE principal_id = ${gus.id} AND used_at IS NOT NULL`)).toBe(1);
    await loginAs(app, gus);

    const done = await redeem();
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(await n(app.db.sql`SELECT count(*)::int AS n FROM totp_factors WHERE principal_id = ${gus.id}`)).toBe(0);
  });
});
