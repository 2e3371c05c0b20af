/**
 * People's login over real HTTP: enrollment, password + TOTP, replay,
 * wrong codes, indistinguishable failures, sessions.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminOf, loginAs, phone, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;

beforeAll(async () => {
  // Lockout has its own tests (test/http/throttle.test.ts); here wrong codes must reach the challenge logic.
  app = await startTestApp({ CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS: '1000' });
  admin = await adminOf(app);
});
afterAll(async () => app.close());

async function passwordStep(username: string, password: string) {
  return app.call('POST', '/v1/auth/login', { body: { username, password } });
}

describe('password + TOTP login', () => {
  it('issues a session carrying amr and auth_time after both factors', async () => {
    const pw = await passwordStep(admin.username, admin.password);
    expect(pw.status).toBe(200);
    expect(pw.body.methods).toEqual(['totp']);
    expect(pw.body).not.toHaveProperty('access_token');
    const s = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: admin.code() } });
    expect(s.status).toBe(200);
    expect(s.body.token_type).toBe('Bearer');
    expect(s.body.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
    expect(s.body.auth_time).toBe(Math.floor(app.clock.now().getTime() / 1000));
    expect(s.body.expires_in).toBe(900);
    const me = await app.call('GET', '/v1/me', { token: s.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('admin');
    expect(me.body.roles).toContain('system-administrator');
    app.clock.advance(30_000);
  });

  it('refuses the same TOTP code twice (the time step is spent)', async () => {
    const code = admin.code();
    const first = await passwordStep(admin.username, admin.password);
    const ok = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: first.body.mfa_token, code } });
    expect(ok.status).toBe(200);
    const second = await passwordStep(admin.username, admin.password);
    const replay = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: second.body.mfa_token, code } });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('invalid_mfa');
    // An older step is also spent.
    const older = phone(admin.totpSecret).generate({ timestamp: app.clock.now().getTime() - 30_000 });
    const third = await passwordStep(admin.username, admin.password);
    const old = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: third.body.mfa_token, code: older } });
    expect(old.status).toBe(401);
    app.clock.advance(30_000);
  });

  it('refuses a wrong code, and codes two steps away', async () => {
    const pw = await passwordStep(admin.username, admin.password);
    const right = admin.code();
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    const r = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: wrong } });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('invalid_mfa');
    const t = app.clock.now().getTime();
    for (const offset of [-60_000, 60_000]) {
      const far = phone(admin.totpSecret).generate({ timestamp: t + offset });
      const f = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: far } });
      expect(f.status).toBe(401);
    }
    // Within ±1 step is accepted (clock drift), independent generator.
    const near = phone(admin.totpSecret).generate({ timestamp: t + 30_000 });
    const ok = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: near } });
    expect(ok.status).toBe(200);
    app.clock.advance(90_000);
  });

  it('burns a challenge after five wrong codes', async () => {
    const pw = await passwordStep(admin.username, admin.password);
    for (let i = 0; i < 5; i++) {
      const r = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: '000000' === admin.code() ? '111111' : '000000' } });
      expect(r.status).toBe(401);
    }
    const r = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: admin.code() } });
    expect(r.status).toBe(401);
  });

  it('expires the MFA challenge', async () => {
    const pw = await passwordStep(admin.username, admin.password);
    app.clock.advance(301_000);
    const r = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: admin.code() } });
    expect(r.status).toBe(401);
    app.clock.advance(30_000);
  });

  it('answers an unknown user exactly like a wrong password', async () => {
    const unknown = await passwordStep('nobody-here', 'some long password 123');
    const wrong = await passwordStep(admin.username, 'some long password 123');
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    const strip = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
    expect(strip(unknown.body)).toEqual(strip(wrong.body));
    expect(unknown.body.code).toBe('invalid_credentials');
    expect(unknown.headers.get('content-type')).toBe(wrong.headers.get('content-type'));
  });

  it('ends a session at expiry and at logout', async () => {
    const pw = await passwordStep(admin.username, admin.password);
    const s = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: admin.code() } });
    expect((await app.call('GET', '/v1/me', { token: s.body.access_token })).status).toBe(200);
    app.clock.advance(901_000);
    const expired = await app.call('GET', '/v1/me', { token: s.body.access_token });
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe('unauthenticated');

    const pw2 = await passwordStep(admin.username, admin.password);
    const s2 = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw2.body.mfa_token, code: admin.code() } });
    expect((await app.call('POST', '/v1/auth/logout', { token: s2.body.access_token })).status).toBe(204);
    expect((await app.call('GET', '/v1/me', { token: s2.body.access_token })).status).toBe(401);
    app.clock.advance(30_000);
  });

  it('refuses malformed and forged bearer tokens', async () => {
    for (const token of ['x', 'cst_' + 'A'.repeat(43), admin.token.slice(0, -1) + (admin.token.endsWith('A') ? 'B' : 'A')]) {
      const r = await app.call('GET', '/v1/me', { token });
      expect(r.status).toBe(401);
    }
  });
});

describe('enrollment', () => {
  beforeEach(async () => {
    await loginAs(app, admin);
  });

  it('refuses short and common passwords without spending the secret', async () => {
    const created = await app.call('POST', '/v1/principals', { token: admin.token, body: { kind: 'user', name: 'dana' } });
    expect(created.status).toBe(201);
    const secret = created.body.enrollment.secret;
    for (const password of ['short-pw-1', 'password1234', 'Password1234', 'qwertyuiop123', 'dana-and-more-text']) {
      const r = await app.call('POST', '/v1/auth/enroll', { body: { username: 'dana', enrollment_secret: secret, password } });
      expect(r.status, password).toBe(400);
      expect(r.body.code).toBe('invalid_request');
      expect(r.body.errors[0].path).toBe('password');
    }
    const ok = await app.call('POST', '/v1/auth/enroll', { body: { username: 'dana', enrollment_secret: secret, password: 'a sensible passphrase of mine' } });
    expect(ok.status).toBe(200);
    expect(ok.body.scope).toBe('enrollment');
    // One use only.
    const again = await app.call('POST', '/v1/auth/enroll', { body: { username: 'dana', enrollment_secret: secret, password: 'another sensible passphrase' } });
    expect(again.status).toBe(401);
    // An enrollment session may not use the admin API even for an admin-to-be.
    const denied = await app.call('GET', '/v1/projects', { token: ok.body.access_token });
    expect(denied.status).toBe(403);
    // Without a confirmed factor, password alone never leads anywhere.
    const login = await passwordStep('dana', 'a sensible passphrase of mine');
    expect(login.status).toBe(401);
  });

  it('refuses an expired enrollment secret', async () => {
    const created = await app.call('POST', '/v1/principals', { token: admin.token, body: { kind: 'user', name: 'eve' } });
    app.clock.advance(86_401_000);
    const r = await app.call('POST', '/v1/auth/enroll', {
      body: { username: 'eve', enrollment_secret: created.body.enrollment.secret, password: 'a sensible passphrase of mine' },
    });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('invalid_credentials');
  });

  it('refuses a wrong first code when confirming a factor', async () => {
    const created = await app.call('POST', '/v1/principals', { token: admin.token, body: { kind: 'user', name: 'finn' } });
    const enr = await app.call('POST', '/v1/auth/enroll', {
      body: { username: 'finn', enrollment_secret: created.body.enrollment.secret, password: 'a sensible passphrase of mine' },
    });
    const start = await app.call('POST', '/v1/me/totp', { token: enr.body.access_token });
    expect(start.body.otpauth_uri).toMatch(/^otpauth:\/\/totp\/Custos:finn\?/);
    expect(Buffer.from(start.body.secret.replace(/=+$/, ''), 'utf8').length).toBeGreaterThanOrEqual(32); // 160 bits base32 = 32 chars
    const good = phone(start.body.secret).generate({ timestamp: app.clock.now().getTime() });
    const bad = String((Number(good) + 500_000) % 1_000_000).padStart(6, '0');
    const r = await app.call('POST', '/v1/me/totp/confirm', { token: enr.body.access_token, body: { factor_id: start.body.factor_id, code: bad } });
    expect(r.status).toBe(401);
    // The stored secret is sealed, not the base32 text.
    const [row] = await app.db.sql`SELECT secret_enc FROM totp_factors WHERE id = ${start.body.factor_id}`;
    expect(Buffer.from(row!.secret_enc).includes(Buffer.from(start.body.secret))).toBe(false);
  });
});
