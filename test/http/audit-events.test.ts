/**
 * The audit event log as written by real requests: every security event
 * names who, when (server clock, UTC), from where and which request (the
 * X-Request-Id the caller saw), and never carries a password, code, secret
 * or token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrubDetails } from '../../src/audit/log.ts';
import { adminOf, enrollPerson, loginAs, phone, startTestApp, type Person, type TestApp } from '../support/app.ts';

type Answer = Awaited<ReturnType<TestApp['call']>>;

interface Sent {
  method: string;
  path: string;
  status: number;
  /** The X-Request-Id header of the response. */
  echoed: string | null;
  /** The app's clock when the request was made. */
  at: number;
}

let app: TestApp;
let admin: Person;
const sent = new Map<string, Sent>();
/** Every secret value that crossed the API in either direction. */
const secrets = new Set<string>();
/** Six-digit TOTP codes sent (checked on word boundaries: ids are hex). */
const totpCodes = new Set<string>();
let seq = 0;
let lastId = '';

const SECRET_FIELDS = new Set(['password', 'code', 'mfa_token', 'access_token', 'refresh_token', 'enrollment_secret', 'secret', 'otpauth_uri']);

/** Collects secret values; `fromServer`: an answer, where `code` is a problem document's error code. */
function harvest(value: unknown, fromServer = false): void {
  if (Array.isArray(value)) {
    for (const v of value) harvest(v, fromServer);
    return;
  }
  if (!value || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    if (fromServer && k === 'code') continue;
    if (SECRET_FIELDS.has(k) && typeof v === 'string') {
      if (/^\d{6}$/.test(v)) totpCodes.add(v);
      else secrets.add(v);
    } else if (k === 'codes' && Array.isArray(v)) {
      for (const c of v) secrets.add(String(c));
    } else harvest(v, fromServer);
  }
}

beforeAll(async () => {
  app = await startTestApp();
  // Every request carries its own X-Request-Id; requests and answers are searched for secrets.
  const raw = app.call.bind(app);
  app.call = async (method, path, options = {}) => {
    const id = `audit-test-${String(++seq).padStart(4, '0')}`;
    lastId = id;
    const at = app.clock.now().getTime();
    harvest(options.body);
    if (options.token) secrets.add(options.token);
    const r = await raw(method, path, { ...options, headers: { ...(options.headers ?? {}), 'X-Request-Id': id } });
    harvest(r.body, true);
    sent.set(id, { method, path, status: r.status, echoed: r.headers.get('x-request-id'), at });
    return r;
  };
  admin = await adminOf(app);
  secrets.add(admin.password);
  secrets.add(admin.totpSecret);
});
afterAll(async () => app?.close());

/** A code that is wrong for `p` near the app's clock. */
function wrongCode(p: Person, salt: number): string {
  const t = app.clock.now().getTime();
  const near = new Set([-2, -1, 0, 1, 2].map((k) => phone(p.totpSecret).generate({ timestamp: t + k * 30_000 })));
  for (let i = salt; ; i++) {
    const c = String((i * 7_919) % 1_000_000).padStart(6, '0');
    if (!near.has(c)) return c;
  }
}

/** Calls and remembers which request id it used. */
async function call(method: string, path: string, options: Parameters<TestApp['call']>[2] = {}): Promise<Answer & { id: string }> {
  const r = await app.call(method, path, options);
  return { ...r, id: lastId };
}

async function newPerson(name: string): Promise<Person> {
  // Creating a person needs a recent second factor (a fresh time step, so no code is replayed).
  app.clock.advance(30_000);
  await loginAs(app, admin);
  const created = await call('POST', '/v1/principals', { token: admin.token, body: { kind: 'user', name } });
  expect(created.status).toBe(201);
  const p = await enrollPerson(app, { id: created.body.id, username: name, secret: created.body.enrollment.secret });
  secrets.add(p.password);
  secrets.add(p.totpSecret);
  return p;
}

describe('audit events', () => {
  it('record who, when, where and which request for every security event, and never a secret', async () => {
    /** [request id, type, outcome] that must each be in the log. */
    const expected: [string, string, string][] = [];

    // Factor added (enrollment), and a refused first code.
    const alma = await newPerson('alma');
    const created = await call('POST', '/v1/principals', { token: admin.token, body: { kind: 'user', name: 'bert' } });
    const bertPassword = 'a long and sensible passphrase of his';
    secrets.add(bertPassword);
    const enr = await call('POST', '/v1/auth/enroll', { body: { username: 'bert', enrollment_secret: created.body.enrollment.secret, password: bertPassword } });
    expect(enr.status).toBe(200);
    expected.push([enr.id, 'auth.enrollment', 'success']);
    const start = await call('POST', '/v1/me/totp', { token: enr.body.access_token });
    const bertSecret: string = start.body.secret;
    secrets.add(bertSecret);
    const bert: Person = {
      id: created.body.id,
      username: 'bert',
      password: bertPassword,
      totpSecret: bertSecret,
      token: '',
      code: () => phone(bertSecret).generate({ timestamp: app.clock.now().getTime() }),
    };
    const badConfirm = await call('POST', '/v1/me/totp/confirm', { token: enr.body.access_token, body: { factor_id: start.body.factor_id, code: wrongCode(bert, 1) } });
    expect(badConfirm.status).toBe(401);
    expected.push([badConfirm.id, 'factor.added', 'failure']);
    const confirm = await call('POST', '/v1/me/totp/confirm', { token: enr.body.access_token, body: { factor_id: start.body.factor_id, code: bert.code() } });
    expect(confirm.status).toBe(200);
    expected.push([confirm.id, 'factor.added', 'success']);
    app.clock.advance(30_000);

    // Password: failure and success; TOTP: failure and success.
    const badPw = await call('POST', '/v1/auth/login', { body: { username: 'alma', password: 'almost the right passphrase' } });
    expect(badPw.status).toBe(401);
    expected.push([badPw.id, 'auth.password', 'failure']);
    const pw = await call('POST', '/v1/auth/login', { body: { username: 'alma', password: alma.password } });
    expect(pw.status).toBe(200);
    expected.push([pw.id, 'auth.password', 'success']);
    const badTotp = await call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: wrongCode(alma, 2) } });
    expect(badTotp.status).toBe(401);
    expected.push([badTotp.id, 'auth.totp.login', 'failure']);
    const totp = await call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: alma.code() } });
    expect(totp.status).toBe(200);
    expected.push([totp.id, 'auth.totp.login', 'success']);
    alma.token = totp.body.access_token;
    app.clock.advance(30_000);

    // Recovery codes: generated, used, refused.
    const gen = await call('POST', '/v1/me/recovery-codes', { token: alma.token });
    expect(gen.status).toBe(201);
    expected.push([gen.id, 'recovery_codes.generated', 'success']);
    const pw2 = await call('POST', '/v1/auth/login', { body: { username: 'alma', password: alma.password } });
    const badRecovery = await call('POST', '/v1/auth/recovery', { body: { mfa_token: pw2.body.mfa_token, code: 'zzzz-zzzz-zzzz' } });
    expect(badRecovery.status).toBe(401);
    expected.push([badRecovery.id, 'recovery_code.used', 'failure']);
    const recovery = await call('POST', '/v1/auth/recovery', { body: { mfa_token: pw2.body.mfa_token, code: gen.body.codes[0] } });
    expect(recovery.status).toBe(200);
    expected.push([recovery.id, 'recovery_code.used', 'success']);

    // Removing the last factor: refused.
    const [factor] = (await call('GET', '/v1/me/factors', { token: alma.token })).body.factors;
    const removal = await call('DELETE', `/v1/me/factors/${factor.id}`, { token: alma.token });
    expect(removal.status).toBe(409);
    expected.push([removal.id, 'factor.removed', 'failure']);

    // Refresh token reuse.
    const r1 = await call('POST', '/v1/auth/refresh', { body: { refresh_token: recovery.body.refresh_token } });
    expect(r1.status).toBe(200);
    const reuse = await call('POST', '/v1/auth/refresh', { body: { refresh_token: recovery.body.refresh_token } });
    expect(reuse.status).toBe(401);
    expected.push([reuse.id, 'session.refresh_reuse', 'failure']);

    // Lockout: bert guesses TOTP codes until the account locks.
    const challenge = async () => (await call('POST', '/v1/auth/login', { body: { username: 'bert', password: bertPassword } })).body.mfa_token as string;
    const c1 = await challenge();
    for (let i = 0; i < 5; i++) {
      const r = await call('POST', '/v1/auth/totp', { body: { mfa_token: c1, code: wrongCode(bert, 10 + i) } });
      expect(r.status).toBe(401);
    }
    const locked = await call('POST', '/v1/auth/totp', { body: { mfa_token: await challenge(), code: wrongCode(bert, 20) } });
    expect(locked.status).toBe(429);
    expected.push([locked.id, 'auth.lockout', 'failure']);

    // Step-up refusal and self-assignment, for good measure.
    app.clock.advance(601_000);
    const stale = await call('POST', '/v1/me/recovery-codes', { token: alma.token });
    expect(stale.status).toBe(401);
    expected.push([stale.id, 'auth.step_up_required', 'failure']);
    app.clock.advance(30_000);
    const adminPw = await call('POST', '/v1/auth/login', { body: { username: admin.username, password: admin.password } });
    const adminSession = await call('POST', '/v1/auth/totp', { body: { mfa_token: adminPw.body.mfa_token, code: admin.code() } });
    const self = await call('POST', '/v1/role-assignments', { token: adminSession.body.access_token, body: { principal_id: admin.id, role_id: 'approver' } });
    expect(self.status).toBe(403);
    expected.push([self.id, 'role.assigned', 'failure']);
    const endAt = app.clock.now().getTime();

    const rows = await app.db.sql`SELECT *, pg_typeof(at)::text AS at_type FROM audit_events ORDER BY at, id`;
    expect(rows.length).toBeGreaterThanOrEqual(expected.length);

    for (const [id, type, outcome] of expected) {
      const match = rows.filter((r) => r.request_id === id && r.type === type && r.outcome === outcome);
      expect(match, `${type} ${outcome} for request ${id} (${sent.get(id)?.method} ${sent.get(id)?.path})`).toHaveLength(1);
    }
    const types = new Set(rows.map((r) => `${r.type}/${r.outcome}`));
    for (const t of [
      'auth.password/success',
      'auth.password/failure',
      'auth.totp.login/success',
      'auth.totp.login/failure',
      'auth.lockout/failure',
      'recovery_code.used/success',
      'recovery_code.used/failure',
      'factor.added/success',
      'factor.removed/failure',
      'session.refresh_reuse/failure',
    ]) {
      expect(types, t).toContain(t);
    }

    for (const r of rows) {
      const what = `${r.type}/${r.outcome} ${r.request_id}`;
      expect(r.actor_id ?? r.subject_id, `${what}: actor or subject`).toBeTruthy();
      // The bootstrap runs at start-up or from the CLI: it has no request to name (nor has the secret it issues).
      if (r.type === 'bootstrap.admin_created' || r.details?.via === 'bootstrap') continue;
      expect(r.at_type, what).toBe('timestamp with time zone');
      expect(r.source_ip, what).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      const req = sent.get(r.request_id);
      expect(req, `${what}: a request id we sent`).toBeDefined();
      expect(req!.echoed, `${what}: the response's X-Request-Id`).toBe(r.request_id);
      // The server's (injected) clock at the time of that request, an absolute UTC instant.
      expect(new Date(r.at).getTime(), what).toBe(req!.at);
      expect(new Date(r.at).getTime()).toBeLessThanOrEqual(endAt);
    }
    const recent = await app.wired.audit.recent({ limit: 1000 });
    for (const e of recent) expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    // No secret in any column of any row.
    const text = JSON.stringify(rows);
    const lower = text.toLowerCase();
    expect(secrets.size).toBeGreaterThan(20);
    expect(totpCodes.size).toBeGreaterThan(8);
    for (const s of secrets) {
      expect(s.length).toBeGreaterThanOrEqual(8);
      expect(text.includes(s), `secret ${s.slice(0, 6)}… appears in the audit log`).toBe(false);
      if (/^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/.test(s)) expect(lower.includes(s.replace(/-/g, ''))).toBe(false);
    }
    for (const c of totpCodes) expect(new RegExp(`(?<![0-9A-Za-z])${c}(?![0-9A-Za-z])`).test(text), `TOTP code ${c} appears in the audit log`).toBe(false);
  });

  it("names the account as the subject of a password lockout of an existing person", async () => {
    const lena = await newPerson('lena');
    for (let i = 0; i < 5; i++) {
      const r = await call('POST', '/v1/auth/login', { body: { username: 'lena', password: `not lena's passphrase ${i}` } });
      expect(r.status).toBe(401);
    }
    const locked = await call('POST', '/v1/auth/login', { body: { username: 'lena', password: "not lena's passphrase either" } });
    expect(locked.status).toBe(429);
    const [ev] = await app.db.sql`SELECT * FROM audit_events WHERE type = 'auth.lockout' AND request_id = ${locked.id}`;
    expect(ev).toBeDefined();
    expect(ev!.details.key).toBe('pwd:lena');
    // Lena's audit trail must show that her account was locked.
    expect(ev!.subject_id, 'subject of the lockout of an existing account').toBe(lena.id);
  });

  it('drops secret-bearing detail keys at any depth before writing', async () => {
    const details = {
      reason: 'mismatch',
      code: '123456',
      mfa_token: 'cmf_x',
      nested: { password: 'p', totp_secret: 's', refresh_token: 'r', webauthn_assertion: 'a', kept: 1 },
    };
    expect(scrubDetails(details)).toEqual({ reason: 'mismatch', nested: { kept: 1 } });
    const bob = await newPerson('bob');
    await app.wired.audit.record({ type: 'test.scrub', outcome: 'info', subjectId: bob.id, details });
    const [row] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'test.scrub'`;
    expect(row!.details).toEqual({ reason: 'mismatch', nested: { kept: 1 } });
  });
});
