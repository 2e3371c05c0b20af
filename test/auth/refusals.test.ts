/**
 * Every refused authentication attempt leaves an audit event, over real
 * HTTP: answers against a used or burned MFA challenge, and attempts refused
 * during a lockout (429) — of an account and of a source address. For each
 * kind, N refused attempts add up to N audited ones.
 *
 * And the locked-source pre-check of src/auth/throttle.ts: a source that is
 * locked out cannot go on adding failures to (and so lock out) the accounts
 * it tries. Deleting the pre-check fails the last test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { adminOf, basicAuth, form, loginAs, personDirect, phone, startTestApp, type Person, type TestApp } from '../support/app.ts';

type Answer = Awaited<ReturnType<TestApp['call']>>;
const N = 7;

/** A code that is wrong for `p` near the app's clock. */
function wrongCode(app: TestApp, p: Person, i: number): string {
  const t = app.clock.now().getTime();
  const near = new Set([-2, -1, 0, 1, 2].map((k) => phone(p.totpSecret).generate({ timestamp: t + k * 30_000 })));
  for (let c = 100_000 + i * 7919; ; c++) if (!near.has(String(c))) return String(c);
}

async function count(app: TestApp, where: { type: string; subject?: string; reason?: string; account?: string; keyKind?: string }): Promise<number> {
  const [r] = await app.db.sql`
    SELECT count(*)::int AS n FROM audit_events
    WHERE type = ${where.type} AND outcome = 'failure'
      ${where.subject ? app.db.sql`AND subject_id = ${where.subject}` : app.db.sql``}
      ${where.reason ? app.db.sql`AND details->>'reason' = ${where.reason}` : app.db.sql``}
      ${where.account ? app.db.sql`AND details->>'account' = ${where.account}` : app.db.sql``}
      ${where.keyKind ? app.db.sql`AND details->>'key_kind' = ${where.keyKind}` : app.db.sql``}`;
  return r!.n as number;
}

const statuses = (rs: Answer[]) => rs.map((r) => r.status);

describe('refused attempts are audited, each one', () => {
  let app: TestApp;
  let admin: Person;

  beforeAll(async () => {
    app = await startTestApp({ CUSTOS_LOCKOUT_SOURCE_ATTEMPTS: '100000' });
    admin = await adminOf(app);
  });
  afterAll(async () => app?.close());

  it('answers against a used MFA challenge: N refusals, N events naming the person', async () => {
    const una = await personDirect(app, 'una');
    const pw = await app.call('POST', '/v1/auth/login', { body: { username: 'una', password: una.password } });
    const ok = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: una.code() } });
    expect(ok.status).toBe(200);
    app.clock.advance(30_000);
    const reason = 'unknown, expired or used challenge';
    const before = { totp: await count(app, { type: 'auth.totp.login', subject: una.id, reason }), rec: await count(app, { type: 'recovery_code.used', subject: una.id, reason }) };
    // The right code on the spent challenge, N times; and N recovery-code answers on it.
    const totp: Answer[] = [];
    for (let i = 0; i < N; i++) totp.push(await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: una.code() } }));
    const rec: Answer[] = [];
    for (let i = 0; i < N; i++) rec.push(await app.call('POST', '/v1/auth/recovery', { body: { mfa_token: pw.body.mfa_token, code: `abcd-efgh-jk${i}m` } }));
    expect(statuses([...totp, ...rec])).toEqual(Array(2 * N).fill(401));
    expect((await count(app, { type: 'auth.totp.login', subject: una.id, reason })) - before.totp).toBe(N);
    expect((await count(app, { type: 'recovery_code.used', subject: una.id, reason })) - before.rec).toBe(N);
  });

  it('answers against a challenge burned by wrong codes: every one after the fifth is audited too', async () => {
    const bo = await personDirect(app, 'bo');
    const pw = await app.call('POST', '/v1/auth/login', { body: { username: 'bo', password: bo.password } });
    const answers: Answer[] = [];
    for (let i = 0; i < 5 + N; i++) answers.push(await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: wrongCode(app, bo, i) } }));
    expect(statuses(answers)).toEqual(Array(5 + N).fill(401));
    expect(await count(app, { type: 'auth.totp.login', subject: bo.id, reason: 'mismatch' })).toBe(5);
    expect(await count(app, { type: 'auth.totp.login', subject: bo.id, reason: 'unknown, expired or used challenge' })).toBe(N);
  });

  it('attempts during an account lockout: every 429 is an auth.throttled event, the lock itself one auth.lockout', async () => {
    const cy = await personDirect(app, 'cy');
    const answers: Answer[] = [];
    for (let i = 0; i < 5 + N; i++) answers.push(await app.call('POST', '/v1/auth/login', { body: { username: 'cy', password: `not the passphrase, try ${i}` } }));
    // Even the right password is refused while locked.
    answers.push(await app.call('POST', '/v1/auth/login', { body: { username: 'cy', password: cy.password } }));
    expect(statuses(answers)).toEqual([...Array(5).fill(401), ...Array(N + 1).fill(429)]);
    expect(await count(app, { type: 'auth.password', subject: cy.id })).toBe(5);
    expect(await count(app, { type: 'auth.throttled', subject: cy.id, account: 'pwd:cy', keyKind: 'account' })).toBe(N + 1);
    expect(await count(app, { type: 'auth.lockout', subject: cy.id })).toBe(1);
  });

  it('wrong client secrets of a service: N refusals, N events naming the client, then the 429s of the lockout', async () => {
    await app.wired.catalog.createProject({ id: 'refusals', name: 'Refusals' });
    const svc = await app.wired.catalog.createPrincipal({ kind: 'service', name: 'job-7', sponsor_id: admin.id, project_id: 'refusals' });
    const cred = await createClientCredential(app.wired.catalogOps, { principalId: svc.id, actorId: admin.id, meta: { ip: undefined, requestId: undefined } });
    const answers: Answer[] = [];
    for (let i = 0; i < 5 + N; i++) {
      answers.push(await app.call('POST', '/v1/decisions', { headers: { authorization: basicAuth(cred.client_id, `cs_not-the-secret-${i}`) }, body: {} }));
    }
    expect(statuses(answers)).toEqual([...Array(5).fill(401), ...Array(N).fill(429)]);
    const [r] = await app.db.sql`SELECT count(*)::int AS n FROM audit_events WHERE type = 'client.auth' AND outcome = 'failure' AND details->>'client_id' = ${cred.client_id}`;
    expect(r!.n).toBe(5);
    expect(await count(app, { type: 'auth.throttled', subject: svc.id, account: `client:${cred.client_id}` })).toBe(N);
  });

  it('refused client assertions (private_key_jwt): each one is an event with a fixed reason', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: 'svc_x', sub: 'svc_x', note: 'x\uD800y' })}.`;
    const unknown = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ iss: 'svc_nobody', sub: 'svc_nobody' })}.c2ln`;
    const post = (assertion: string) =>
      app.call('POST', '/oauth2/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
      });
    const answers: Answer[] = [];
    // Five for the unknown client: its budget (the sixth would be a 429, audited as auth.throttled).
    for (let i = 0; i < N; i++) answers.push(await post(none));
    for (let i = 0; i < 5; i++) answers.push(await post(unknown));
    expect(statuses(answers)).toEqual(Array(N + 5).fill(401));
    const rows = await app.db.sql`
      SELECT details->>'reason' AS reason, count(*)::int AS n FROM audit_events
      WHERE type = 'client.auth' AND details->>'method' = 'private_key_jwt' GROUP BY 1 ORDER BY 1`;
    expect(rows.map((r) => [r.reason, r.n])).toEqual([['algorithm not allowed', N], ['no registered keys', 5]]);
  });

  it('parallel attempts during a lockout: the audited refusals add up to the 429s answered', async () => {
    const di = await personDirect(app, 'di');
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => app.call('POST', '/v1/auth/login', { body: { username: 'di', password: `a parallel guess number ${i}` } })));
    const refused = burst.filter((r) => r.status === 401).length;
    const limited = burst.filter((r) => r.status === 429).length;
    expect(refused + limited).toBe(40);
    expect(await count(app, { type: 'auth.password', subject: di.id })).toBe(refused);
    expect(await count(app, { type: 'auth.throttled', account: 'pwd:di' })).toBe(limited);
  });
});

describe('a locked-out source', () => {
  let app: TestApp;
  let admin: Person;
  const A = { 'X-Forwarded-For': '203.0.113.10' };
  const B = { 'X-Forwarded-For': '198.51.100.20' };

  beforeAll(async () => {
    // Behind a (loopback) proxy: X-Forwarded-For names the source, so two sources can be told apart.
    app = await startTestApp({ CUSTOS_TRUST_PROXY: 'loopback', CUSTOS_LOCKOUT_SOURCE_ATTEMPTS: '3' });
    admin = await adminOf(app);
  });
  afterAll(async () => app?.close());

  it('cannot add failures to the accounts it tries, so it cannot lock their owners out', async () => {
    const vera = await personDirect(app, 'vera');
    const login = (username: string, password: string, headers: Record<string, string>) => app.call('POST', '/v1/auth/login', { body: { username, password }, headers });
    // Source A sprays three names, then is locked out.
    for (let i = 1; i <= 3; i++) expect((await login(`sprayed-${i}`, 'a guessed passphrase 2024', A)).status).toBe(401);
    expect((await login('sprayed-4', 'a guessed passphrase 2024', A)).status).toBe(429);

    // Locked, A keeps trying Vera: ten refusals, each audited as the source's lock, none counted against Vera.
    const tries: Answer[] = [];
    for (let i = 0; i < 10; i++) tries.push(await login('vera', `a guess at vera's passphrase ${i}`, A));
    expect(statuses(tries)).toEqual(Array(10).fill(429));

    // Vera, from elsewhere, signs in as usual (without the pre-check her account would be locked: 429).
    const ok = await login('vera', vera.password, B);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(await count(app, { type: 'auth.lockout', subject: vera.id })).toBe(0);
    expect(await count(app, { type: 'auth.throttled', subject: vera.id, account: 'pwd:vera', keyKind: 'source' })).toBe(10);
    await loginAs(app, admin);
  });
});
