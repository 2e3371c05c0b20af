/**
 * Sessions over real HTTP: access/refresh pairs, rotation and reuse
 * detection (the whole family dies), automatic logoff after inactivity
 * (§164.312(a)(2)(iii)), the absolute lifetime, logout, revocation by an
 * administrator, and disabling a person.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, personWithRoles, startTestApp, type Person, type TestApp } from '../support/app.ts';

type Answer = Awaited<ReturnType<TestApp['call']>>;

interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in: number;
  token_type: string;
  scope: string;
}

const ACCESS = /^cst_[A-Za-z0-9_-]{43}$/;
const REFRESH = /^csr_[A-Za-z0-9_-]{43}$/;

/**
 * Password + TOTP login at the app's clock, after moving it one TOTP step on
 * (so the code is never a replay). The session starts at the returned time.
 */
async function signIn(app: TestApp, p: Person): Promise<Tokens> {
  app.clock.advance(30_000);
  const pw = await app.call('POST', '/v1/auth/login', { body: { username: p.username, password: p.password } });
  if (pw.status !== 200) throw new Error(`login: ${pw.status} ${JSON.stringify(pw.body)}`);
  const s = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: p.code() } });
  if (s.status !== 200) throw new Error(`totp: ${s.status} ${JSON.stringify(s.body)}`);
  return s.body as Tokens;
}

const me = (app: TestApp, token: string) => app.call('GET', '/v1/me', { token });
const refresh = (app: TestApp, refresh_token: string) => app.call('POST', '/v1/auth/refresh', { body: { refresh_token } });

function expectUnauthenticated(r: Answer, what: string) {
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(401);
  expect(r.body.code).toBe('unauthenticated');
  expect(r.body).not.toHaveProperty('access_token');
}

/** Both halves of a token pair are dead. */
async function expectDead(app: TestApp, t: Tokens, what: string) {
  expectUnauthenticated(await me(app, t.access_token), `${what} (access)`);
  expectUnauthenticated(await refresh(app, t.refresh_token), `${what} (refresh)`);
}

describe('default settings', () => {
  let app: TestApp;
  let admin: Person;
  let alice: Person;

  beforeAll(async () => {
    app = await startTestApp();
    admin = await adminOf(app);
    alice = await personWithRoles(app, admin, 'alice', []);
  });
  afterAll(async () => app?.close());

  it('answers a login with an access token, a refresh token and their lifetimes', async () => {
    const s = await signIn(app, alice);
    expect(s.access_token).toMatch(ACCESS);
    expect(s.refresh_token).toMatch(REFRESH);
    expect(s.token_type).toBe('Bearer');
    expect(s.scope).toBe('full');
    expect(s.expires_in).toBe(900);
    expect(s.refresh_expires_in).toBe(43_200);
    expect((await me(app, s.access_token)).status).toBe(200);
    // Each token is only good for its own purpose.
    expectUnauthenticated(await me(app, s.refresh_token), 'refresh token as bearer');
    expectUnauthenticated(await refresh(app, s.access_token), 'access token as refresh token');
    // The database holds digests, never the tokens.
    const rows = await app.db.sql`SELECT token_hash FROM session_tokens`;
    for (const r of rows) {
      const stored = Buffer.from(r.token_hash);
      expect(stored.includes(Buffer.from(s.access_token))).toBe(false);
      expect(stored.includes(Buffer.from(s.refresh_token))).toBe(false);
    }
  });

  it('rotates refresh tokens; reusing a spent one revokes the whole session and is audited', async () => {
    const s1 = await signIn(app, alice);
    const r1 = await refresh(app, s1.refresh_token);
    expect(r1.status, JSON.stringify(r1.body)).toBe(200);
    const s2 = r1.body as Tokens;
    expect(s2.access_token).toMatch(ACCESS);
    expect(s2.refresh_token).toMatch(REFRESH);
    expect(s2.access_token).not.toBe(s1.access_token);
    expect(s2.refresh_token).not.toBe(s1.refresh_token);
    expect(s2.expires_in).toBe(900);
    expect((await me(app, s2.access_token)).status).toBe(200);

    app.clock.advance(60_000);
    const r2 = await refresh(app, s2.refresh_token);
    expect(r2.status).toBe(200);
    const s3 = r2.body as Tokens;
    expect((await me(app, s3.access_token)).status).toBe(200);

    // Someone replays the first, already spent refresh token.
    const reuse = await refresh(app, s1.refresh_token);
    expectUnauthenticated(reuse, 'reused refresh token');
    // The newest pair of the family stops working at once, as do the older ones.
    await expectDead(app, s3, 'newest pair after reuse');
    expectUnauthenticated(await me(app, s2.access_token), 'older access token after reuse');
    expectUnauthenticated(await me(app, s1.access_token), 'first access token after reuse');

    const events = await app.db.sql`SELECT * FROM audit_events WHERE type = 'session.refresh_reuse'`;
    expect(events).toHaveLength(1);
    expect(events[0]!.outcome).toBe('failure');
    expect(events[0]!.actor_id).toBe(alice.id);

    // Other sessions of the same person are not affected.
    const other = await signIn(app, alice);
    expect((await me(app, other.access_token)).status).toBe(200);
  });

  it('ends the session at logout: access and refresh', async () => {
    const s = await signIn(app, alice);
    const out = await app.call('POST', '/v1/auth/logout', { token: s.access_token });
    expect(out.status).toBe(204);
    await expectDead(app, s, 'after logout');
    const [ev] = await app.db.sql`SELECT * FROM audit_events WHERE type = 'session.logout' AND actor_id = ${alice.id}`;
    expect(ev).toBeDefined();
  });

  it("lets an administrator (with fresh MFA) end all of a person's sessions at once", async () => {
    const bob = await personWithRoles(app, admin, 'bob', []);
    const a = await signIn(app, bob);
    const b = await signIn(app, bob);
    const r = await refresh(app, b.refresh_token);
    expect(r.status).toBe(200);
    const b2 = r.body as Tokens;
    const [{ live }] = (await app.db.sql`SELECT count(*)::int AS live FROM sessions WHERE principal_id = ${bob.id} AND revoked_at IS NULL`) as any;

    const adminSession = await signIn(app, admin);
    const revoke = await app.call('POST', `/v1/principals/${bob.id}/sessions/revoke`, { token: adminSession.access_token });
    expect(revoke.status, JSON.stringify(revoke.body)).toBe(200);
    expect(revoke.body.revoked).toBe(live);
    expect(live).toBeGreaterThanOrEqual(3); // the enrollment's full session, a and b

    // Immediately, without any clock movement.
    await expectDead(app, a, 'first session');
    await expectDead(app, b2, 'second session (rotated)');
    expectUnauthenticated(await me(app, bob.token), 'session from enrollment');
    // The administrator's own session is untouched, and bob can sign in again.
    expect((await me(app, adminSession.access_token)).status).toBe(200);
    expect((await me(app, (await signIn(app, bob)).access_token)).status).toBe(200);
    const [ev] = await app.db.sql`SELECT * FROM audit_events WHERE type = 'session.revoked_all' AND subject_id = ${bob.id}`;
    expect(ev!.actor_id).toBe(admin.id);
  });

  it('ends every session of a person the moment they are disabled; re-enabling does not revive them', async () => {
    const carol = await personWithRoles(app, admin, 'carol', []);
    const a = await signIn(app, carol);
    const b = await signIn(app, carol);
    const adminSession = await signIn(app, admin);

    const off = await app.call('PATCH', `/v1/principals/${carol.id}`, { token: adminSession.access_token, body: { status: 'disabled' } });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    await expectDead(app, a, 'session a after disabling');
    await expectDead(app, b, 'session b after disabling');
    // No new session either: the password step fails like any wrong password.
    const login = await app.call('POST', '/v1/auth/login', { body: { username: carol.username, password: carol.password } });
    expect(login.status).toBe(401);
    expect(login.body.code).toBe('invalid_credentials');

    const on = await app.call('PATCH', `/v1/principals/${carol.id}`, { token: adminSession.access_token, body: { status: 'active' } });
    expect(on.status).toBe(200);
    await expectDead(app, a, 'session a after re-enabling');
    await expectDead(app, b, 'session b after re-enabling');
  });

  it("checks the person's status at every use, not only when the API disables them", async () => {
    const erin = await personWithRoles(app, admin, 'erin', []);
    const s = await signIn(app, erin);
    // Disabled in the catalog directly: no session is revoked on the way.
    await app.wired.catalog.updatePrincipal(erin.id, { status: 'disabled' });
    const [{ live }] = (await app.db.sql`SELECT count(*)::int AS live FROM sessions WHERE principal_id = ${erin.id} AND revoked_at IS NULL`) as any;
    expect(live).toBeGreaterThan(0);
    await expectDead(app, s, 'while disabled');
  });

  it('does not let an MFA challenge from before disabling yield a session', async () => {
    const dora = await personWithRoles(app, admin, 'dora', []);
    app.clock.advance(30_000);
    const pw = await app.call('POST', '/v1/auth/login', { body: { username: dora.username, password: dora.password } });
    expect(pw.status).toBe(200);
    const adminSession = await signIn(app, admin);
    expect((await app.call('PATCH', `/v1/principals/${dora.id}`, { token: adminSession.access_token, body: { status: 'disabled' } })).status).toBe(200);

    // The password was right a moment ago and the code is right now, but the person is disabled.
    const second = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: dora.code() } });
    const issued = second.status === 200 ? (second.body as Tokens) : undefined;
    // Whatever the answer, a token issued now must never work: not now, and not after re-enabling.
    if (issued) {
      expectUnauthenticated(await me(app, issued.access_token), 'token issued to a disabled person');
      expect((await app.call('PATCH', `/v1/principals/${dora.id}`, { token: adminSession.access_token, body: { status: 'active' } })).status).toBe(200);
      expectUnauthenticated(await me(app, issued.access_token), 'token issued while disabled, after re-enabling');
    }
    expect(second.status, 'the TOTP step of a disabled person is refused').toBe(401);
  });
});

describe('automatic logoff (idle 300 s, access tokens 900 s)', () => {
  let app: TestApp;
  let ivan: Person;

  beforeAll(async () => {
    app = await startTestApp({ CUSTOS_IDLE_TIMEOUT_SECONDS: '300', CUSTOS_SESSION_TTL_SECONDS: '900' });
    const admin = await adminOf(app);
    ivan = await personWithRoles(app, admin, 'ivan', []);
  });
  afterAll(async () => app?.close());

  it('keeps a session in use alive and ends it after 301 s without activity, well before the token expires', async () => {
    const s = await signIn(app, ivan);
    for (let i = 0; i < 2; i++) {
      app.clock.advance(200_000);
      expect((await me(app, s.access_token)).status, `use at +${(i + 1) * 200} s`).toBe(200);
    }
    // +400 s since login: beyond the idle limit from login, so activity moved it.
    app.clock.advance(301_000); // +701 s: the access token itself is still valid until +900 s
    const idle = await me(app, s.access_token);
    expectUnauthenticated(idle, 'access after 301 s idle');
    expectUnauthenticated(await refresh(app, s.refresh_token), 'refresh after 301 s idle');
    // Logged off for good: activity does not bring it back.
    expectUnauthenticated(await me(app, s.access_token), 'access again');
  });

  it('refuses a refresh after 301 s without activity (the refresh path checks idleness itself)', async () => {
    const s = await signIn(app, ivan);
    app.clock.advance(301_000);
    expectUnauthenticated(await refresh(app, s.refresh_token), 'refresh after 301 s idle');
    expectUnauthenticated(await me(app, s.access_token), 'access after 301 s idle');
  });

  it('counts a refresh as activity, and a session used at 300 s is still alive', async () => {
    const s = await signIn(app, ivan);
    app.clock.advance(300_000);
    const r = await refresh(app, s.refresh_token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    app.clock.advance(250_000); // +550 s from login, 250 s since the refresh
    expect((await me(app, (r.body as Tokens).access_token)).status).toBe(200);
  });
});

describe('absolute session lifetime (20 minutes)', () => {
  let app: TestApp;
  let max: Person;

  beforeAll(async () => {
    app = await startTestApp({ CUSTOS_SESSION_MAX_SECONDS: '1200', CUSTOS_SESSION_TTL_SECONDS: '900', CUSTOS_IDLE_TIMEOUT_SECONDS: '900' });
    const admin = await adminOf(app);
    max = await personWithRoles(app, admin, 'max', []);
  });
  afterAll(async () => app?.close());

  it('ends refreshes, and caps access tokens, at the end of the session whatever the activity', async () => {
    const s = await signIn(app, max);
    expect(s.expires_in).toBe(900);
    expect(s.refresh_expires_in).toBe(1200);

    app.clock.advance(800_000);
    const r1 = await refresh(app, s.refresh_token);
    expect(r1.status).toBe(200);
    const s2 = r1.body as Tokens;
    expect(s2.expires_in).toBe(400); // capped at the session's end, not 900
    expect(s2.refresh_expires_in).toBe(400);

    app.clock.advance(350_000); // +1150 s
    const r2 = await refresh(app, s2.refresh_token);
    expect(r2.status).toBe(200);
    const s3 = r2.body as Tokens;
    expect(s3.expires_in).toBe(50);
    expect((await me(app, s3.access_token)).status).toBe(200);

    app.clock.advance(51_000); // +1201 s
    await expectDead(app, s3, 'after the absolute lifetime');
    // A fresh login is a new session with a full lifetime.
    const again = await signIn(app, max);
    expect(again.refresh_expires_in).toBe(1200);
  });
});
