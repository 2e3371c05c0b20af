/**
 * Throttling and lockout over real HTTP with the default settings (5 attempts
 * per account per 15 minutes, a 60 s lock doubling up to an hour, 50 per
 * source): parallel guesses cannot beat the budget, a lock refuses even the
 * right answer, unknown and known names lock alike, locks grow, and the
 * per-source budget spans usernames but is not spent by successes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, loginAs, personWithRoles, phone, startTestApp, type Person, type TestApp } from '../support/app.ts';

type Answer = Awaited<ReturnType<TestApp['call']>>;

/** `count` distinct six-digit codes that are wrong for `p` anywhere near the app's clock. */
function wrongCodes(app: TestApp, p: Person, count: number): string[] {
  const t = app.clock.now().getTime();
  const near = new Set([-3, -2, -1, 0, 1, 2, 3].map((k) => phone(p.totpSecret).generate({ timestamp: t + k * 30_000 })));
  const out: string[] = [];
  for (let i = 1; out.length < count; i++) {
    const c = String((i * 104_729) % 1_000_000).padStart(6, '0');
    if (!near.has(c) && !out.includes(c)) out.push(c);
  }
  return out;
}

function retryAfter(r: Answer): number {
  const h = r.headers.get('retry-after');
  expect(h, 'Retry-After header').not.toBeNull();
  expect(h).toMatch(/^\d+$/);
  return Number(h);
}

function expectRateLimited(r: Answer): number {
  expect(r.status, JSON.stringify(r.body)).toBe(429);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body.code).toBe('rate_limited');
  const s = retryAfter(r);
  expect(s).toBeGreaterThanOrEqual(1);
  return s;
}

const statuses = (rs: Answer[]) => rs.map((r) => r.status);
const count = (rs: Answer[], status: number) => rs.filter((r) => r.status === status).length;
const withoutRequestId = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });

async function passwordStep(app: TestApp, username: string, password: string, headers?: Record<string, string>): Promise<Answer> {
  return app.call('POST', '/v1/auth/login', { body: { username, password }, ...(headers ? { headers } : {}) });
}

async function lockoutRows(app: TestApp, key: string): Promise<any[]> {
  return app.db.sql`SELECT * FROM audit_events WHERE type = 'auth.lockout' AND details->>'key' = ${key}`;
}

describe('default lockout settings', () => {
  let app: TestApp;
  let admin: Person;

  beforeAll(async () => {
    app = await startTestApp();
    admin = await adminOf(app);
  });
  afterAll(async () => app?.close());

  it('lets at most 5 of 50 parallel wrong TOTP codes reach verification; the lock refuses even the right code until it expires', async () => {
    const tina = await personWithRoles(app, admin, 'tina', []);
    // Ten live challenges (the password step succeeds each time, which clears its own counter).
    const challenges: string[] = [];
    for (let i = 0; i < 10; i++) {
      const pw = await passwordStep(app, tina.username, tina.password);
      expect(pw.status, JSON.stringify(pw.body)).toBe(200);
      challenges.push(pw.body.mfa_token);
    }
    const wrong = wrongCodes(app, tina, 50);
    // Five per challenge: the per-challenge limit (5 failures) alone would let all 50 through.
    const answers = await Promise.all(wrong.map((code, i) => app.call('POST', '/v1/auth/totp', { body: { mfa_token: challenges[i % 10], code } })));

    const invalid = answers.filter((r) => r.status === 401);
    const limited = answers.filter((r) => r.status === 429);
    expect(invalid.length + limited.length, statuses(answers).join(',')).toBe(50);
    expect(invalid.length).toBeGreaterThanOrEqual(1);
    expect(invalid.length).toBeLessThanOrEqual(5);
    for (const r of invalid) expect(r.body.code).toBe('invalid_mfa');
    const waits = limited.map(expectRateLimited);

    // What actually reached the code check, as the audit log saw it.
    const [{ n }] = (await app.db.sql`
      SELECT count(*)::int AS n FROM audit_events WHERE type = 'auth.totp.login' AND outcome = 'failure' AND subject_id = ${tina.id}`) as any;
    expect(n).toBeLessThanOrEqual(5);
    expect(n).toBe(invalid.length);
    const locks = await lockoutRows(app, `mfa:${tina.id}`);
    expect(locks).toHaveLength(1);
    expect(locks[0].subject_id).toBe(tina.id);

    // Locked: even the correct code on a fresh, valid challenge is refused, and no session is issued.
    const pw = await passwordStep(app, tina.username, tina.password);
    expect(pw.status).toBe(200);
    const refused = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: tina.code() } });
    const wait = expectRateLimited(refused);
    expect(refused.body).not.toHaveProperty('access_token');
    expect(wait).toBeLessThanOrEqual(Math.max(...waits));

    // Past Retry-After the correct code works (on the same challenge, which the refusal did not burn).
    app.clock.advance((wait + 1) * 1000);
    const ok = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: tina.code() } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.access_token).toMatch(/^cst_/);
    app.clock.advance(30_000);
  });

  it('lets at most 5 of 50 parallel wrong passwords reach verification, audits the lockout once, and locks an unknown name identically', async () => {
    const paula = await personWithRoles(app, admin, 'paula', []);
    const burst = (username: string) =>
      Promise.all(Array.from({ length: 50 }, (_, i) => passwordStep(app, username, `not the right passphrase ${i}`)));

    const known = await burst(paula.username);
    expect(count(known, 401) + count(known, 429), statuses(known).join(',')).toBe(50);
    expect(count(known, 401)).toBeGreaterThanOrEqual(1);
    expect(count(known, 401)).toBeLessThanOrEqual(5);
    for (const r of known.filter((x) => x.status === 401)) expect(r.body.code).toBe('invalid_credentials');
    const knownWaits = known.filter((r) => r.status === 429).map(expectRateLimited);
    const [{ n }] = (await app.db.sql`
      SELECT count(*)::int AS n FROM audit_events WHERE type = 'auth.password' AND outcome = 'failure' AND details->>'username' = 'paula'`) as any;
    expect(n).toBe(count(known, 401));
    expect(await lockoutRows(app, 'pwd:paula')).toHaveLength(1);

    // The right password is refused too while the account is locked.
    expectRateLimited(await passwordStep(app, paula.username, paula.password));

    // An unknown name: the same statuses, the same bodies, the same waits.
    const unknown = await burst('nobody-at-all');
    expect(count(unknown, 401)).toBe(count(known, 401));
    expect(count(unknown, 429)).toBe(count(known, 429));
    const unknownWaits = unknown.filter((r) => r.status === 429).map(expectRateLimited);
    expect(new Set(unknownWaits)).toEqual(new Set(knownWaits));
    const body = (rs: Answer[], status: number) => withoutRequestId(rs.find((r) => r.status === status)!.body);
    expect(body(unknown, 401)).toEqual(body(known, 401));
    expect(body(unknown, 429)).toEqual(body(known, 429));
    expect(await lockoutRows(app, 'pwd:nobody-at-all')).toHaveLength(1);
    // Case does not open a second budget.
    expectRateLimited(await passwordStep(app, 'NOBODY-At-All', 'not the right passphrase'));
  });

  it('doubles each further lockout', async () => {
    const gina = await personWithRoles(app, admin, 'gina', []);
    const lockOnce = async (): Promise<number> => {
      for (let i = 0; i < 5; i++) {
        const r = await passwordStep(app, gina.username, `wrong passphrase number ${i}`);
        expect(r.status, JSON.stringify(r.body)).toBe(401);
      }
      return expectRateLimited(await passwordStep(app, gina.username, 'wrong passphrase, one too many'));
    };

    const first = await lockOnce();
    expect(first).toBe(60);
    // Still locked a little later, with the remaining time (not a fresh lock).
    app.clock.advance(30_000);
    const during = expectRateLimited(await passwordStep(app, gina.username, gina.password));
    expect(during).toBeLessThanOrEqual(first - 30);
    expect(during).toBeGreaterThanOrEqual(1);

    app.clock.advance((during + 1) * 1000);
    const second = await lockOnce();
    expect(second).toBe(2 * first);
    app.clock.advance((second + 1) * 1000);
    const third = await lockOnce();
    expect(third).toBe(2 * second);
    expect(await lockoutRows(app, 'pwd:gina')).toHaveLength(3);

    // A success after the lock has expired starts the account over.
    app.clock.advance((third + 1) * 1000);
    await loginAs(app, gina);
    expect(await lockOnce()).toBe(first);
  });
});

describe('per-source budget', () => {
  let app: TestApp;
  let admin: Person;

  beforeAll(async () => {
    app = await startTestApp({ CUSTOS_LOCKOUT_SOURCE_ATTEMPTS: '8' });
    admin = await adminOf(app);
  });
  afterAll(async () => app?.close());

  it('locks a source spraying many usernames, counts failures only, and ignores X-Forwarded-For', async () => {
    // Seven failures for seven different (fresh) names: each name is far below its own budget.
    for (let i = 1; i <= 7; i++) {
      const r = await passwordStep(app, `sprayed-${i}`, 'a guessed passphrase 2024');
      expect(r.status, `attempt ${i}`).toBe(401);
    }
    // Complete logins (password and TOTP) give their attempts back: without the refund
    // the source would pass its budget of 8 during these.
    for (let i = 0; i < 3; i++) await loginAs(app, admin);

    // The eighth failure is still within the budget…
    expect((await passwordStep(app, 'sprayed-8', 'a guessed passphrase 2024')).status).toBe(401);
    // …the ninth is refused before any check, even for a name never tried before.
    const ninth = await passwordStep(app, 'sprayed-9', 'a guessed passphrase 2024');
    const wait = expectRateLimited(ninth);
    const locks = await app.db.sql`SELECT * FROM audit_events WHERE type = 'auth.lockout' AND details->>'key_kind' = 'source'`;
    expect(locks).toHaveLength(1);
    expect(locks[0]!.details.key).toMatch(/^src:(::ffff:)?127\.0\.0\.1$/);

    // A forged X-Forwarded-For does not make a new source (no proxy is trusted).
    expectRateLimited(await passwordStep(app, 'sprayed-10', 'a guessed passphrase 2024', { 'X-Forwarded-For': '203.0.113.77' }));
    // The whole source is locked, the administrator's correct password included.
    expectRateLimited(await passwordStep(app, admin.username, admin.password));

    app.clock.advance((wait + 1) * 1000);
    expect((await passwordStep(app, admin.username, admin.password)).status).toBe(200);
  });
});
