/**
 * Authentication secrets have one live value, over real HTTP on a real
 * database: a superseded enrollment secret is dead, enrolling revokes every
 * other secret of the person, and a recovery (redeeming a re-issued secret)
 * leaves no factor of the old owner behind — a passkey registered before it
 * no longer logs in — audited without secrets and announced on the signed
 * webhook.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpaqueToken } from '../../src/auth/opaqueToken.ts';
import { adminOf, enrollPerson, issueSecret, loginAs, personDirect, phone, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { SoftAuthenticator } from '../support/softAuthenticator.ts';
import { startReceiver, type Receiver } from '../grants/webhookReceiver.ts';

let app: TestApp;
let admin: Person;
/** Approves recoveries (a second administrator: src/changes/holdRecovery.ts). */
let second: Person;
let hooks: Receiver;

beforeAll(async () => {
  hooks = await startReceiver();
  app = await startTestApp({
    CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS: '1000',
    CUSTOS_LOCKOUT_SOURCE_ATTEMPTS: '100000',
    CUSTOS_WEBHOOK_URL: hooks.url,
    CUSTOS_WEBHOOK_SECRET: hooks.secret,
  });
  admin = await adminOf(app);
  second = await personDirect(app, 'second-admin', [{ role: 'system-administrator' }]);
});
afterAll(async () => {
  await app?.close();
  await hooks?.close();
});

/** A new person created over the API; the create answer carries the first secret. */
async function createPerson(name: string): Promise<{ id: string; secret: string }> {
  await loginAs(app, admin);
  const r = await app.call('POST', '/v1/principals', { token: admin.token, body: { kind: 'user', name } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id, secret: r.body.enrollment.secret };
}

/** A re-issued secret, as administrators issue it over the API (with step-up; a recovery with a second one's approval). */
const reissue = (id: string): Promise<string> => issueSecret(app, admin, second, id);

function enroll(username: string, secret: string, password: string) {
  return app.call('POST', '/v1/auth/enroll', { body: { username, enrollment_secret: secret, password } });
}

async function lastEnrollmentRefusal(subjectId: string): Promise<string> {
  const [e] = await app.db.sql`
    SELECT details FROM audit_events WHERE type = 'auth.enrollment' AND outcome = 'failure' AND subject_id = ${subjectId} ORDER BY at DESC, id DESC LIMIT 1`;
  return (e?.details as { reason?: string } | undefined)?.reason ?? '';
}

describe('enrollment secrets', () => {
  it('a superseded secret is dead, before and after the person enrolls with the newer one', async () => {
    const p = await createPerson('sunny');
    const newer = await reissue(p.id);

    const before = await enroll('sunny', p.secret, 'a long passphrase from the old mail');
    expect(before.status).toBe(401);
    expect(before.body.code).toBe('invalid_credentials');
    expect(await lastEnrollmentRefusal(p.id)).toBe('enrollment secret superseded');

    await enrollPerson(app, { id: p.id, username: 'sunny', secret: newer });
    // The defect: the older secret (leaked, say) still set a password after the person had enrolled.
    const after = await enroll('sunny', p.secret, 'an attacker picked this passphrase');
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('invalid_credentials');
    expect(after.body).not.toHaveProperty('access_token');
    expect(await lastEnrollmentRefusal(p.id)).toBe('enrollment secret superseded');
    // Issuing the newer secret recorded which one it superseded, in the same transaction.
    const issued = await app.db.sql`SELECT actor_id, details FROM audit_events WHERE type = 'enrollment.issued' AND subject_id = ${p.id} ORDER BY at, id`;
    expect(issued.map((e) => e.actor_id)).toEqual([admin.id, admin.id]);
    expect(issued.map((e) => (e.details as { superseded_ids: string[] }).superseded_ids.length)).toEqual([0, 1]);
  });

  it('nobody issues an enrollment secret for themselves (it would let one person reset their own factors)', async () => {
    await loginAs(app, admin);
    const before = await app.db.sql`SELECT count(*)::int AS n FROM enrollments WHERE principal_id = ${admin.id}`;
    const r = await app.call('POST', `/v1/principals/${admin.id}/enrollment`, { token: admin.token });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('forbidden');
    expect(await app.db.sql`SELECT count(*)::int AS n FROM enrollments WHERE principal_id = ${admin.id}`).toEqual(before);
  });

  it('enrolling revokes every other live secret of the person (two live ones, as stored before this version)', async () => {
    const p = await createPerson('lenny');
    // A second live secret written straight into the table, as an older version could leave it.
    const other = newOpaqueToken('cen');
    await app.db.sql`
      INSERT INTO enrollments (id, principal_id, secret_hash, expires_at)
      VALUES (gen_random_uuid(), ${p.id}, ${other.hash}, ${new Date(app.clock.now().getTime() + 3_600_000)})`;
    await enrollPerson(app, { id: p.id, username: 'lenny', secret: p.secret });
    const r = await enroll('lenny', other.token, 'a passphrase for the other secret');
    expect(r.status).toBe(401);
    expect(await lastEnrollmentRefusal(p.id)).toBe('enrollment secret enrolled');
    const rows = await app.db.sql`SELECT used_at, revoked_reason FROM enrollments WHERE principal_id = ${p.id} ORDER BY created_at`;
    expect(rows.filter((x) => x.used_at).length).toBe(1);
    expect(rows.filter((x) => x.revoked_reason === 'enrolled').length).toBe(1);
  });
});

describe('recovery', () => {
  it('removes every factor of the old owner: a passkey, TOTP and recovery codes no longer work; audited and announced', async () => {
    const key = new SoftAuthenticator({ origin: app.config.webauthn.origins[0]!, rpId: app.config.webauthn.rpId });
    const p = await createPerson('rosa');
    const password = 'she keeps a very long passphrase';
    const enr = await enroll('rosa', p.secret, password);
    expect(enr.status).toBe(200);
    // A passkey (discoverable credential), which makes the enrollment session a full one.
    const regOpts = await app.call('POST', '/v1/me/webauthn/registration/options', { token: enr.body.access_token });
    const made = key.create(regOpts.body);
    const reg = await app.call('POST', '/v1/me/webauthn/registration/verify', { token: enr.body.access_token, body: { name: 'laptop', response: made.response } });
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);
    const full: string = reg.body.access_token;
    const oldRefresh: string = reg.body.refresh_token;
    // A TOTP factor and recovery codes too (fresh second factor from the registration).
    const start = await app.call('POST', '/v1/me/totp', { token: full });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const totpSecret: string = start.body.secret;
    const code = () => phone(totpSecret).generate({ timestamp: app.clock.now().getTime() });
    expect((await app.call('POST', '/v1/me/totp/confirm', { token: full, body: { factor_id: start.body.factor_id, code: code() } })).status).toBe(200);
    app.clock.advance(30_000);
    const codes = await app.call('POST', '/v1/me/recovery-codes', { token: full });
    expect(codes.status).toBe(201);

    const passkeyLogin = async () => {
      const o = await app.call('POST', '/v1/auth/passkey/options');
      expect(o.status).toBe(200);
      return app.call('POST', '/v1/auth/passkey/verify', { body: { response: key.get(o.body, { credential: made.credential }) } });
    };
    expect((await passkeyLogin()).status).toBe(200);
    // Someone holding the old password has a login half done.
    const pending = await app.call('POST', '/v1/auth/login', { body: { username: 'rosa', password } });
    expect(pending.status).toBe(200);

    // The person lost everything: an administrator re-issues, the person redeems.
    const secret = await reissue(p.id);
    const rec = await enroll('rosa', secret, 'she chose a brand new passphrase');
    expect(rec.status, JSON.stringify(rec.body)).toBe(200);
    expect(rec.body.scope).toBe('enrollment');

    // The defect: the passkey registered before the recovery still logged in after it.
    const after = await passkeyLogin();
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('invalid_mfa');
    const [refusal] = await app.db.sql`
      SELECT details FROM audit_events WHERE type = 'auth.passkey.login' AND outcome = 'failure' ORDER BY at DESC, id DESC LIMIT 1`;
    expect(refusal!.details).toMatchObject({ reason: 'unknown credential' });
    // The old TOTP factor on the half-done login, the recovery codes, the old refresh token: all dead.
    app.clock.advance(30_000);
    const totp = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pending.body.mfa_token, code: code() } });
    expect(totp.status).toBe(401);
    expect((await app.call('POST', '/v1/auth/recovery', { body: { mfa_token: pending.body.mfa_token, code: codes.body.codes[0] } })).status).toBe(401);
    expect((await app.call('POST', '/v1/auth/refresh', { body: { refresh_token: oldRefresh } })).status).toBe(401);
    const old = await app.call('POST', '/v1/auth/login', { body: { username: 'rosa', password } });
    expect(old.status).toBe(401);
    const left = await app.db.sql`
      SELECT (SELECT count(*)::int FROM webauthn_credentials WHERE principal_id = ${p.id}) AS w,
             (SELECT count(*)::int FROM totp_factors WHERE principal_id = ${p.id}) AS t,
             (SELECT count(*)::int FROM recovery_codes WHERE principal_id = ${p.id}) AS c`;
    expect(left[0]).toEqual({ w: 0, t: 0, c: 0 });

    // Audited with ids and counts, never a secret.
    const [event] = await app.db.sql`SELECT actor_id, details FROM audit_events WHERE type = 'auth.recovery' AND subject_id = ${p.id}`;
    expect(event!.actor_id).toBe(p.id);
    expect(event!.details).toMatchObject({ removed: { webauthn: 1, authenticator_app: 1, recovery: 10 }, webauthn_ids: [made.response.id] });
    const text = JSON.stringify(event!.details);
    for (const s of [totpSecret, password, secret, ...codes.body.codes]) expect(text).not.toContain(s);

    // Announced on the signed webhook.
    const note = await hooks.waitFor('person.recovered', (r) => r.body.data.principal_id === p.id);
    expect(note.signatureValid).toBe(true);
    expect(note.body.data).toMatchObject({ username: 'rosa', removed: { webauthn: 1, authenticator_app: 1, recovery: 10 } });

    // The new owner starts from nothing: a new factor, and only that one is listed.
    const start2 = await app.call('POST', '/v1/me/totp', { token: rec.body.access_token });
    const code2 = phone(start2.body.secret).generate({ timestamp: app.clock.now().getTime() });
    const conf2 = await app.call('POST', '/v1/me/totp/confirm', { token: rec.body.access_token, body: { factor_id: start2.body.factor_id, code: code2 } });
    expect(conf2.status).toBe(200);
    const factors = await app.call('GET', '/v1/me/factors', { token: conf2.body.access_token });
    expect(factors.body.factors.map((f: { id: string }) => f.id)).toEqual([start2.body.factor_id]);
    expect(factors.body.recovery_codes_remaining).toBe(0);
  });

  it('a first enrollment is not a recovery: nothing to remove, nothing announced', async () => {
    const p = await createPerson('nina');
    await enrollPerson(app, { id: p.id, username: 'nina', secret: p.secret });
    expect(await app.db.sql`SELECT 1 FROM audit_events WHERE type = 'auth.recovery' AND subject_id = ${p.id}`).toHaveLength(0);
    const [ok] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'auth.enrollment' AND outcome = 'success' AND subject_id = ${p.id}`;
    expect(ok!.details).toMatchObject({ recovery: false });
  });
});
