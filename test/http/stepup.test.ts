/**
 * Step-up over real HTTP: sensitive actions need a second factor proven in
 * the last 10 minutes (a login counts), WebAuthn where a role demands it;
 * recovery codes; the last factor cannot be removed; nobody assigns
 * themselves a role.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, personWithRoles,
  personDirect, phone, startTestApp, type Person, type TestApp } from '../support/app.ts';

type Answer = Awaited<ReturnType<TestApp['call']>>;

const STEP_UP_MS = 600_000;

/** Password + TOTP login one TOTP step on from now; returns the access token (also stored on the person). */
async function signIn(app: TestApp, p: Person): Promise<string> {
  app.clock.advance(30_000);
  const pw = await app.call('POST', '/v1/auth/login', { body: { username: p.username, password: p.password } });
  if (pw.status !== 200) throw new Error(`login: ${pw.status} ${JSON.stringify(pw.body)}`);
  const s = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: p.code() } });
  if (s.status !== 200) throw new Error(`totp: ${s.status} ${JSON.stringify(s.body)}`);
  p.token = s.body.access_token;
  return p.token;
}

function expectProblem(r: Answer, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body.code).toBe(code);
}

const expectStepUpRequired = (r: Answer) => expectProblem(r, 401, 'step_up_required');

/** A six-digit code that is wrong for `p` near the app's clock. */
function wrongCode(app: TestApp, p: Person): string {
  const t = app.clock.now().getTime();
  const near = new Set([-2, -1, 0, 1, 2].map((k) => phone(p.totpSecret).generate({ timestamp: t + k * 30_000 })));
  for (let i = 1; ; i++) {
    const c = String((i * 7_919) % 1_000_000).padStart(6, '0');
    if (!near.has(c)) return c;
  }
}

const stepUp = (app: TestApp, p: Person, code: string) => app.call('POST', '/v1/auth/step-up/totp', { token: p.token, body: { code } });

async function stepUpEvents(app: TestApp, actor: string, action: string): Promise<any[]> {
  return app.db.sql`
    SELECT * FROM audit_events WHERE type = 'auth.step_up_required' AND actor_id = ${actor} AND details->>'action' = ${action}`;
}

async function rolesOf(app: TestApp, admin: Person, principalId: string): Promise<string[]> {
  const r = await app.call('GET', `/v1/role-assignments?principal_id=${principalId}`, { token: admin.token });
  expect(r.status).toBe(200);
  return (r.body.items as { role_id: string }[]).map((a) => a.role_id).sort();
}

describe('TOTP step-up', () => {
  let app: TestApp;
  let admin: Person;
  let sam: Person;

  beforeAll(async () => {
    // Idle timeout and token lifetime above the step-up window, so only MFA freshness decides.
    app = await startTestApp({ CUSTOS_IDLE_TIMEOUT_SECONDS: '3600', CUSTOS_SESSION_TTL_SECONDS: '3600' });
    admin = await adminOf(app);
    // Enrolled without the administrator receiving Sam's secret, so assigning Sam a plain role is immediate.
    sam = await personDirect(app, 'sam');
  });
  afterAll(async () => app?.close());

  it('counts a login as fresh MFA, refuses after 601 s with step_up_required (audited), and a TOTP step-up unlocks again', async () => {
    await signIn(app, admin);
    const fresh = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: sam.id, role_id: 'data-scientist' } });
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(201);

    app.clock.advance(STEP_UP_MS + 1_000);
    const stale = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: sam.id, role_id: 'ai-researcher' } });
    expectStepUpRequired(stale);
    expect(stale.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await rolesOf(app, admin, sam.id)).toEqual(['data-scientist']);
    const events = await stepUpEvents(app, admin.id, 'POST /v1/role-assignments');
    expect(events).toHaveLength(1);
    expect(events[0].outcome).toBe('failure');
    expect(events[0].request_id).toBe(stale.body.request_id);
    // The session itself is fine; only the sensitive action is refused.
    expect((await app.call('GET', '/v1/me', { token: admin.token })).status).toBe(200);

    const code = admin.code();
    const up = await stepUp(app, admin, code);
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body.method).toBe('totp');
    expect(up.body.mfa_at).toBe(app.clock.now().toISOString());
    const again = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: sam.id, role_id: 'ai-researcher' } });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(await rolesOf(app, admin, sam.id)).toEqual(['ai-researcher', 'data-scientist']);

    // The same step-up code a second time is a replay.
    expectProblem(await stepUp(app, admin, code), 401, 'invalid_mfa');
    // A wrong code is refused.
    app.clock.advance(30_000);
    expectProblem(await stepUp(app, admin, wrongCode(app, admin)), 401, 'invalid_mfa');

    // The window restarts from the step-up; it is not permanent.
    app.clock.advance(STEP_UP_MS + 1_000);
    expectStepUpRequired(await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: sam.id, role_id: 'data-scientist' } }));
  });

  it('gates every sensitive route the same way when MFA is stale', async () => {
    await signIn(app, admin);
    await signIn(app, sam);
    const samSession = sam.token;
    const [factor] = (await app.call('GET', '/v1/me/factors', { token: admin.token })).body.factors;
    const assignment = (await app.call('GET', `/v1/role-assignments?principal_id=${sam.id}`, { token: admin.token })).body.items[0];
    expect(factor).toBeDefined();
    expect(assignment).toBeDefined();
    const codesBefore = await app.db.sql`SELECT id FROM recovery_codes WHERE principal_id = ${admin.id}`;

    app.clock.advance(STEP_UP_MS + 1_000);
    const gated: [string, string, string][] = [
      ['DELETE', `/v1/me/factors/${factor.id}`, 'DELETE /v1/me/factors/:id'],
      ['POST', '/v1/me/recovery-codes', 'POST /v1/me/recovery-codes'],
      ['DELETE', `/v1/role-assignments/${assignment.id}`, 'DELETE /v1/role-assignments/:id'],
      ['POST', `/v1/principals/${sam.id}/enrollment`, 'POST /v1/principals/:id/enrollment'],
      ['POST', `/v1/principals/${sam.id}/sessions/revoke`, 'POST /v1/principals/:id/sessions/revoke'],
    ];
    for (const [method, path, action] of gated) {
      const r = await app.call(method, path, { token: admin.token });
      expectStepUpRequired(r);
      expect(await stepUpEvents(app, admin.id, action), action).toHaveLength(1);
    }
    // Nothing happened.
    expect((await app.call('GET', '/v1/me/factors', { token: admin.token })).body.factors).toHaveLength(1);
    expect(await app.db.sql`SELECT id FROM recovery_codes WHERE principal_id = ${admin.id}`).toEqual(codesBefore);
    expect((await app.call('GET', `/v1/role-assignments?principal_id=${sam.id}`, { token: admin.token })).body.items.map((a: any) => a.id)).toContain(assignment.id);
    expect((await app.db.sql`SELECT id FROM enrollments WHERE principal_id = ${sam.id}`).length).toBe(1);
    expect((await app.call('GET', '/v1/me', { token: samSession })).status).toBe(200);

    // With a fresh step-up the same calls go through.
    expect((await stepUp(app, admin, admin.code())).status).toBe(200);
    // Sam has enrolled: a new secret is a recovery, proposed here for a second administrator (202).
    expect((await app.call('POST', `/v1/principals/${sam.id}/enrollment`, { token: admin.token })).status).toBe(202);
    expect((await app.call('DELETE', `/v1/role-assignments/${assignment.id}`, { token: admin.token })).status).toBe(204);
    expect((await app.call('POST', `/v1/principals/${sam.id}/sessions/revoke`, { token: admin.token })).status).toBe(200);
    expect((await app.call('GET', '/v1/me', { token: samSession })).status).toBe(401);
  });

  it("treats changing a role's inheritance as a role change: stale MFA is refused", async () => {
    // With a stale (e.g. stolen) session, making a role inherit system-administrator
    // grants administration to everyone who holds it: the same effect as assigning
    // system-administrator, which step-up exists to prevent.
    await signIn(app, admin);
    const created = await app.call('POST', '/v1/roles', { token: admin.token, body: { id: 'night-shift', description: 'Night shift' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const assigned = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: sam.id, role_id: 'night-shift' } });
    expect(assigned.status, JSON.stringify(assigned.body)).toBe(201);

    app.clock.advance(STEP_UP_MS + 1_000);
    const patched = await app.call('PATCH', '/v1/roles/night-shift', { token: admin.token, body: { inherits: ['system-administrator'] } });
    await signIn(app, sam);
    const samMe = await app.call('GET', '/v1/me', { token: sam.token });
    expect(samMe.body.permissions, 'sam must not have become an administrator').toEqual([]);
    expectStepUpRequired(patched);
    expect(await stepUpEvents(app, admin.id, 'PATCH /v1/roles/:id')).toHaveLength(1);
  });

  it('refuses to assign a role to oneself, and audits the attempt', async () => {
    await signIn(app, admin);
    const r = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: admin.id, role_id: 'approver' } });
    expectProblem(r, 403, 'forbidden');
    expect(await rolesOf(app, admin, admin.id)).toEqual(['system-administrator']);
    const [ev] = await app.db.sql`
      SELECT * FROM audit_events WHERE type = 'role.assigned' AND outcome = 'failure' AND actor_id = ${admin.id} AND subject_id = ${admin.id}`;
    expect(ev).toBeDefined();
    expect(ev!.details.reason).toBe('self-assignment');
    expect(ev!.details.role_id).toBe('approver');
    expect(ev!.request_id).toBe(r.body.request_id);
  });
});

describe('concurrent step-up', () => {
  let app: TestApp;
  let pia: Person;

  beforeAll(async () => {
    // Wrong and replayed codes must reach the replay check here, not the lockout.
    app = await startTestApp({ CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS: '1000', CUSTOS_LOCKOUT_SOURCE_ATTEMPTS: '1000' });
    const admin = await adminOf(app);
    pia = await personWithRoles(app, admin, 'pia', []);
    await signIn(app, pia);
  });
  afterAll(async () => app?.close());

  it('accepts a step-up code once even when it is sent many times in parallel', async () => {
    for (let round = 0; round < 5; round++) {
      app.clock.advance(30_000);
      const code = pia.code();
      const answers = await Promise.all(Array.from({ length: 12 }, () => stepUp(app, pia, code)));
      expect(answers.filter((r) => r.status === 200), `round ${round}: ${answers.map((r) => r.status).join(',')}`).toHaveLength(1);
      for (const r of answers.filter((a) => a.status !== 200)) expectProblem(r, 401, 'invalid_mfa');
    }
  });
});

describe('recovery codes and factors', () => {
  let app: TestApp;
  let admin: Person;
  let rita: Person;

  beforeAll(async () => {
    app = await startTestApp({ CUSTOS_IDLE_TIMEOUT_SECONDS: '3600' });
    admin = await adminOf(app);
    rita = await personWithRoles(app, admin, 'rita', []);
  });
  afterAll(async () => app?.close());

  const factors = async (p: Person) => {
    const r = await app.call('GET', '/v1/me/factors', { token: p.token });
    expect(r.status).toBe(200);
    return r.body as { factors: { id: string; type: string }[]; recovery_codes_remaining: number };
  };
  const recoveryLogin = async (p: Person, code: string) => {
    app.clock.advance(1_000);
    const pw = await app.call('POST', '/v1/auth/login', { body: { username: p.username, password: p.password } });
    expect(pw.status).toBe(200);
    return { methods: pw.body.methods as string[], answer: await app.call('POST', '/v1/auth/recovery', { body: { mfa_token: pw.body.mfa_token, code } }) };
  };

  it('issues ten single-use codes that log in once each, in any case and without dashes; regenerating replaces them', async () => {
    await signIn(app, rita);
    expect((await factors(rita)).recovery_codes_remaining).toBe(0);
    const gen = await app.call('POST', '/v1/me/recovery-codes', { token: rita.token });
    expect(gen.status, JSON.stringify(gen.body)).toBe(201);
    const codes: string[] = gen.body.codes;
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(/^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/);
    expect(new Set(codes).size).toBe(10);
    expect((await factors(rita)).recovery_codes_remaining).toBe(10);

    const first = await recoveryLogin(rita, codes[0]!);
    expect(first.methods).toEqual(expect.arrayContaining(['totp', 'recovery']));
    expect(first.answer.status, JSON.stringify(first.answer.body)).toBe(200);
    expect(first.answer.body.access_token).toMatch(/^cst_/);
    const meR = await app.call('GET', '/v1/me', { token: first.answer.body.access_token });
    expect(meR.body.mfa_method).toBe('recovery');
    expect((await factors(rita)).recovery_codes_remaining).toBe(9);

    // The same code a second time: refused.
    const reuse = await recoveryLogin(rita, codes[0]!);
    expectProblem(reuse.answer, 401, 'invalid_mfa');
    expect(reuse.answer.body).not.toHaveProperty('access_token');

    // Upper case, no dashes, spaces: the same code.
    const sloppy = await recoveryLogin(rita, ` ${codes[1]!.toUpperCase().replace(/-/g, '')} `.slice(1));
    expect(sloppy.answer.status, JSON.stringify(sloppy.answer.body)).toBe(200);
    const spaced = await recoveryLogin(rita, codes[2]!.replace(/-/g, ' '));
    expect(spaced.answer.status).toBe(200);
    expect((await factors(rita)).recovery_codes_remaining).toBe(7);

    // A recovery login is a fresh second factor: it may regenerate (a step-up route).
    rita.token = spaced.answer.body.access_token;
    const regen = await app.call('POST', '/v1/me/recovery-codes', { token: rita.token });
    expect(regen.status).toBe(201);
    const fresh: string[] = regen.body.codes;
    expect(fresh.filter((c) => codes.includes(c))).toEqual([]);
    expect((await factors(rita)).recovery_codes_remaining).toBe(10);
    expectProblem((await recoveryLogin(rita, codes[3]!)).answer, 401, 'invalid_mfa');
    expect((await recoveryLogin(rita, fresh[0]!)).answer.status).toBe(200);
    expect((await factors(rita)).recovery_codes_remaining).toBe(9);

    // Stored as keyed HMACs: neither the code nor a plain hash of it is in the database.
    const rows = await app.db.sql`SELECT code_hmac FROM recovery_codes WHERE principal_id = ${rita.id}`;
    expect(rows).toHaveLength(10);
    const stored = rows.map((r) => Buffer.from(r.code_hmac));
    for (const c of [...fresh, ...codes]) {
      const norm = c.replace(/-/g, '');
      for (const s of stored) {
        expect(s.length).toBe(32);
        expect(s.includes(Buffer.from(c))).toBe(false);
        expect(s.includes(Buffer.from(norm))).toBe(false);
        expect(s.equals(createHash('sha256').update(norm).digest())).toBe(false);
        expect(s.equals(createHash('sha256').update(c).digest())).toBe(false);
      }
    }
    const dump = JSON.stringify(await app.db.sql`SELECT * FROM recovery_codes`);
    for (const c of [...fresh, ...codes]) {
      expect(dump).not.toContain(c);
      expect(dump).not.toContain(c.replace(/-/g, ''));
    }
  });

  it('refuses to remove the last factor (recovery codes do not count), with 409 and an audit event', async () => {
    await signIn(app, rita);
    const before = await factors(rita);
    expect(before.factors).toHaveLength(1);
    expect(before.factors[0]!.type).toBe('totp');
    expect(before.recovery_codes_remaining).toBeGreaterThan(0);
    const r = await app.call('DELETE', `/v1/me/factors/${before.factors[0]!.id}`, { token: rita.token });
    expectProblem(r, 409, 'conflict');
    expect((await factors(rita)).factors).toEqual(before.factors);
    // Password + TOTP still works.
    await signIn(app, rita);
    const [ev] = await app.db.sql`SELECT * FROM audit_events WHERE type = 'factor.removed' AND outcome = 'failure' AND subject_id = ${rita.id}`;
    expect(ev!.details.reason).toBe('last factor');
    // Another person's factor id is simply not found.
    await signIn(app, admin);
    const adminFactor = (await factors(admin)).factors[0]!;
    expectProblem(await app.call('DELETE', `/v1/me/factors/${adminFactor.id}`, { token: rita.token }), 404, 'not_found');
  });
});

describe('roles that require WebAuthn', () => {
  let app: TestApp;
  let admin: Person;
  let nora: Person;

  beforeAll(async () => {
    app = await startTestApp({ CUSTOS_WEBAUTHN_REQUIRED_ROLES: 'system-administrator', CUSTOS_IDLE_TIMEOUT_SECONDS: '3600' });
    admin = await adminOf(app);
    // Created directly: over HTTP, creating a person would already need a WebAuthn step-up here.
    nora = await personDirect(app, 'nora');
  });
  afterAll(async () => app?.close());

  it('does not accept TOTP (login or step-up) from an administrator', async () => {
    await signIn(app, admin);
    const r = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: nora.id, role_id: 'approver' } });
    expectStepUpRequired(r);
    expect(r.body.detail).toMatch(/webauthn/i);
    expect(r.body.detail).not.toMatch(/totp/i);

    app.clock.advance(30_000);
    const up = await stepUp(app, admin, admin.code());
    expect(up.status).toBe(200);
    const after = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: nora.id, role_id: 'approver' } });
    expectStepUpRequired(after);
    expect(after.body.detail).toMatch(/webauthn/i);
    expectStepUpRequired(await app.call('POST', '/v1/me/recovery-codes', { token: admin.token }));
    const [ev] = await app.db.sql`SELECT * FROM audit_events WHERE type = 'auth.step_up_required' AND actor_id = ${admin.id} ORDER BY at DESC LIMIT 1`;
    expect(ev!.details.reason).toMatch(/webauthn/i);
  });

  it('also holds for a role that inherits the WebAuthn-only role', async () => {
    await signIn(app, admin);
    // Creating a role is a role change: over HTTP an administrator under this setting would need WebAuthn.
    expect((await app.call('POST', '/v1/roles', { token: admin.token, body: { id: 'ops', inherits: ['system-administrator'] } })).body.code).toBe('step_up_required');
    await app.wired.catalog.createRole({ id: 'ops', inherits: ['system-administrator'] });
    const olga = await personDirect(app, 'olga');
    // Assigned directly in the catalog: over HTTP the administrator would need WebAuthn.
    await app.wired.catalog.assignRole({ principal_id: olga.id, role_id: 'ops', project_id: null }, admin.id);
    await signIn(app, olga);
    const r = await app.call('POST', '/v1/me/recovery-codes', { token: olga.token });
    expectStepUpRequired(r);
    expect(r.body.detail).toMatch(/webauthn/i);
  });

  it('accepts a TOTP step-up from a person without such a role', async () => {
    await signIn(app, nora);
    expect((await app.call('POST', '/v1/me/recovery-codes', { token: nora.token })).status).toBe(201);
    app.clock.advance(STEP_UP_MS + 1_000);
    const stale = await app.call('POST', '/v1/me/recovery-codes', { token: nora.token });
    expectStepUpRequired(stale);
    expect(stale.body.detail).toMatch(/totp/i);
    expect((await stepUp(app, nora, nora.code())).status).toBe(200);
    const ok = await app.call('POST', '/v1/me/recovery-codes', { token: nora.token });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.codes).toHaveLength(10);
  });
});
