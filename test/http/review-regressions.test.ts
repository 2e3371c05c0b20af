/**
 * Regression tests for the security review's findings, over real HTTP:
 * TOTP re-enrollment from a full session needs step-up and never refreshes a
 * session (f1); decision inputs the log cannot store are refused at the edge,
 * and a record the database refuses does not fail its batch-mates (f3);
 * dataset, person and BAA changes need step-up and BAAs are audited (f4);
 * client-secret guessing and anonymous passkey options are throttled (f6);
 * a redeemed re-enrollment ends old sessions, session touches do not notify,
 * problems name fields rather than constraints, and a role called
 * `constructor` is harmless (f7).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../src/audit/decisionLog.ts';
import { createDecisionLogWriter } from '../../src/audit/postgres/decisionLogWriter.ts';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { permissionsOf } from '../../src/auth/context.ts';
import { uuidv7Generator } from '../../src/clock.ts';
import { CATALOG_CHANNEL } from '../../src/db/notify.ts';
import { adminOf, enrollPerson, issueSecret, loginAs, type Person, personDirect, phone, startTestApp, type TestApp } from '../support/app.ts';

type Answer = Awaited<ReturnType<TestApp['call']>>;

const STEP_UP_MS = 600_000;
/** Long sessions, so only the freshness of the second factor decides. */
const LONG_SESSIONS = { CUSTOS_IDLE_TIMEOUT_SECONDS: '7200', CUSTOS_SESSION_TTL_SECONDS: '7200' };

function expectProblem(r: Answer, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body.code).toBe(code);
}

const expectStepUpRequired = (r: Answer) => expectProblem(r, 401, 'step_up_required');

function expectRateLimited(r: Answer) {
  expectProblem(r, 429, 'rate_limited');
  expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
}

const tally = (rs: Answer[]) => rs.reduce<Record<number, number>>((t, r) => ({ ...t, [r.status]: (t[r.status] ?? 0) + 1 }), {});

async function stepUpRefusals(app: TestApp, actor: string, action: string): Promise<number> {
  const [r] = await app.db.sql`
    SELECT count(*)::int AS n FROM audit_events WHERE type = 'auth.step_up_required' AND actor_id = ${actor} AND details->>'action' = ${action}`;
  return r!.n as number;
}

describe('f1: TOTP re-enrollment from a full session', () => {
  let app: TestApp;
  let tom: Person;

  beforeAll(async () => {
    app = await startTestApp(LONG_SESSIONS);
    tom = await personDirect(app, 'tom');
  });
  afterAll(async () => app?.close());

  const factorsOf = async (p: Person) => {
    const r = await app.call('GET', '/v1/me/factors', { token: p.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.factors as { id: string; type: string }[];
  };

  it('refuses to start or confirm a factor when the second factor is stale; the old factor stays and no session is issued', async () => {
    const [original] = await factorsOf(tom);
    expect(original?.type).toBe('totp');
    // Fresh (the enrollment just proved the factor): a pending factor may be started.
    const pending = await app.call('POST', '/v1/me/totp', { token: tom.token });
    expect(pending.status, JSON.stringify(pending.body)).toBe(201);

    app.clock.advance(STEP_UP_MS + 1_000);
    const start = await app.call('POST', '/v1/me/totp', { token: tom.token });
    expectStepUpRequired(start);
    expect(start.body.secret).toBeUndefined();

    const code = phone(pending.body.secret).generate({ timestamp: app.clock.now().getTime() });
    const confirm = await app.call('POST', '/v1/me/totp/confirm', { token: tom.token, body: { factor_id: pending.body.factor_id, code } });
    expectStepUpRequired(confirm);
    expect(confirm.body.access_token).toBeUndefined();
    expect(await stepUpRefusals(app, tom.id, 'totp.enroll')).toBe(2);

    // Still the original factor: the person's own phone still signs in.
    expect((await factorsOf(tom)).map((f) => f.id)).toEqual([original!.id]);
    await loginAs(app, tom);
  });

  it('after step-up, replaces the factor and answers {factor_id, confirmed: true}, leaving the session (and its MFA time) as it was', async () => {
    await loginAs(app, tom); // MFA proven now (T); loginAs then moves the clock 30 s on
    const [original] = await factorsOf(tom);
    const before = tom.token;
    app.clock.advance(STEP_UP_MS - 120_000); // T + 510 s: still fresh

    const start = await app.call('POST', '/v1/me/totp', { token: tom.token });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const newPhone = phone(start.body.secret);
    const confirm = await app.call('POST', '/v1/me/totp/confirm', {
      token: tom.token,
      body: { factor_id: start.body.factor_id, code: newPhone.generate({ timestamp: app.clock.now().getTime() }) },
    });
    expect(confirm.status, JSON.stringify(confirm.body)).toBe(200);
    expect(confirm.body).toEqual({ factor_id: start.body.factor_id, confirmed: true });

    // The same session goes on, with no new MFA time: at T + 601 s it is stale again.
    expect((await app.call('GET', '/v1/me', { token: before })).status).toBe(200);
    app.clock.advance(91_000);
    expectStepUpRequired(await app.call('POST', '/v1/me/totp', { token: before }));

    // Only the new factor is left, and its replacement of the old one is audited.
    expect((await factorsOf(tom)).map((f) => f.id)).toEqual([start.body.factor_id]);
    const removed = await app.db.sql`SELECT details FROM audit_events WHERE type = 'factor.removed' AND actor_id = ${tom.id}`;
    expect(removed.map((e) => e.details)).toEqual([expect.objectContaining({ factor: 'totp', factor_id: original!.id, reason: 'replaced' })]);

    // The old phone no longer signs in; the new one does.
    const pw = await app.call('POST', '/v1/auth/login', { body: { username: tom.username, password: tom.password } });
    expect(pw.status, JSON.stringify(pw.body)).toBe(200);
    expectProblem(await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: tom.code() } }), 401, 'invalid_mfa');
    const ok = await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: newPhone.generate({ timestamp: app.clock.now().getTime() }) } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });
});

describe('f3: decision inputs the decision log cannot store', () => {
  let app: TestApp;
  let admin: Person;
  let sam: Person;

  beforeAll(async () => {
    app = await startTestApp(LONG_SESSIONS);
    admin = await adminOf(app);
    sam = await personDirect(app, 'sam', [{ role: 'data-scientist' }]);
    expect((await app.call('POST', '/v1/projects', { token: admin.token, body: { id: 'p1', name: 'P1' } })).status).toBe(201);
    const ds = await app.call('POST', '/v1/datasets', {
      token: admin.token,
      body: { id: 'd1', project_id: 'p1', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'age', type: 'integer' }] },
    });
    expect(ds.status, JSON.stringify(ds.body)).toBe(201);
  });
  afterAll(async () => app?.close());

  const good = () => ({ principal_id: sam.id, dataset: 'd1', purpose: 'research', columns: ['age'] });
  const decide = (body: unknown) => app.call('POST', '/v1/decisions', { token: admin.token, body });
  const logged = async () => ((await app.db.sql`SELECT count(*)::int AS n FROM decision_log`)[0]!.n as number);

  it('refuses columns that are not identifiers and context text with NUL or a lone surrogate (400), without failing concurrent callers', async () => {
    const ok = await decide(good());
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.effect).toBe('allow');

    const bad = [
      { ...good(), columns: ['a\u0000b'] },
      { ...good(), columns: ['\ud800x'] },
      { ...good(), columns: ['age', 'not a column'] },
      { ...good(), context: { ticket: 'a\u0000b' } },
      { ...good(), context: { ticket: '\ud800' } },
      { ...good(), context: { ticket: 'ok\udc00' } },
    ];
    for (const body of bad) {
      const before = await logged();
      const answers = await Promise.all([...Array.from({ length: 20 }, () => decide(good())), decide(body), ...Array.from({ length: 10 }, () => decide(good()))]);
      const refused = answers[20]!;
      expectProblem(refused, 400, 'invalid_request');
      expect(tally(answers), JSON.stringify(body)).toEqual({ 200: 30, 400: 1 });
      expect(await logged()).toBe(before + 30);
    }

    // The batch endpoint validates each request the same way.
    const batch = await app.call('POST', '/v1/decisions/batch', { token: admin.token, body: { requests: [good(), { ...good(), context: { ticket: '\ud800' } }] } });
    expectProblem(batch, 400, 'invalid_request');
  });

  it('retries each record of a batch the database refuses as data, so only the bad record fails', async () => {
    // Capture one real record as the server built it.
    const log = app.wired.decisions.log;
    const append = log.append;
    const captured: DecisionRecord[] = [];
    log.append = (r) => {
      captured.push(r);
      return append.call(log, r);
    };
    try {
      expect((await decide(good())).status).toBe(200);
    } finally {
      log.append = append;
    }
    const record = captured[0]!;
    expect(record).toBeDefined();

    // The real PostgreSQL writer; all six are submitted in one turn, so they share one batch.
    const writer = createDecisionLogWriter(app.db.sql, { ids: uuidv7Generator(), lanes: 1 });
    const goods = Array.from({ length: 5 }, () => ({ ...record, id: randomUUID(), requestId: undefined }));
    const poisoned: DecisionRecord = { ...record, id: randomUUID(), requestId: undefined, input: { ...record.input, context: { note: 'a\u0000b' } } };
    const items = [goods[0]!, goods[1]!, poisoned, goods[2]!, goods[3]!, goods[4]!];
    const settled = await Promise.allSettled(items.map((r) => writer.append(r)));

    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ name: expect.stringMatching(/Unavailable/) });
    // One shared batch failed (so the test did exercise a batch), and its five good records were committed alone.
    expect(writer.stats.failedBatches).toBe(1);
    expect(writer.stats.items).toBe(5);
    const rows = await app.db.sql`SELECT id FROM decision_log WHERE id IN ${app.db.sql(items.map((r) => r.id))}`;
    expect(rows.map((r) => r.id).sort()).toEqual(goods.map((r) => r.id).sort());
  });
});

describe('f4: catalog changes that can open PHI need step-up; BAAs are audited', () => {
  let app: TestApp;
  let admin: Person;
  let rita: Person;

  beforeAll(async () => {
    app = await startTestApp(LONG_SESSIONS);
    admin = await adminOf(app);
    rita = await personDirect(app, 'rita', [{ role: 'ai-researcher' }]);
    expect((await app.call('POST', '/v1/projects', { token: admin.token, body: { id: 'p1', name: 'P1' } })).status).toBe(201);
    const ds = await app.call('POST', '/v1/datasets', {
      token: admin.token,
      body: { id: 'ehr', project_id: 'p1', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'patient_name', category: 'names' }, { name: 'ssn', category: 'ssn' }, { name: 'dx' }] },
    });
    expect(ds.status, JSON.stringify(ds.body)).toBe(201);
    expect((await app.call('POST', '/v1/vendors', { token: admin.token, body: { id: 'acme', name: 'Acme' } })).status).toBe(201);
  });
  afterAll(async () => app?.close());

  const baa = { reference: 'BAA-1', effective_on: '2020-01-01', expires_on: '2099-01-01', purposes: ['research'], classifications: ['phi'] };

  it('refuses dataset, person and BAA writes with a stale second factor, and changes nothing', async () => {
    const request = { principal_id: rita.id, dataset: 'ehr', purpose: 'research', columns: ['patient_name', 'ssn'] };
    expect((await app.call('POST', '/v1/decisions', { token: admin.token, body: request })).body.effect).toBe('deny');
    const datasetBefore = (await app.call('GET', '/v1/datasets/ehr', { token: admin.token })).body;
    const [{ n: peopleBefore }] = (await app.db.sql`SELECT count(*)::int AS n FROM principals`) as unknown as [{ n: number }];

    app.clock.advance(STEP_UP_MS + 1_000);
    const attempts: [string, string, unknown, string][] = [
      ['PATCH', '/v1/datasets/ehr', { columns: [{ name: 'patient_name' }, { name: 'ssn' }, { name: 'dx' }] }, 'PATCH /v1/datasets/:id'],
      ['POST', '/v1/datasets', { id: 'ehr2', project_id: 'p1', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'dx' }] }, 'POST /v1/datasets'],
      ['POST', '/v1/principals', { kind: 'user', name: 'mallory' }, 'POST /v1/principals'],
      ['PATCH', `/v1/principals/${rita.id}`, { attributes: { clearance: 'phi' } }, 'PATCH /v1/principals/:id'],
      ['POST', '/v1/vendors/acme/baas', baa, 'POST /v1/vendors/:id/baas'],
    ];
    for (const [method, path, body, action] of attempts) {
      const r = await app.call(method, path, { token: admin.token, body });
      expectStepUpRequired(r);
      expect(await stepUpRefusals(app, admin.id, action), action).toBe(1);
    }

    expect((await app.call('GET', '/v1/datasets/ehr', { token: admin.token })).body).toEqual(datasetBefore);
    expect((await app.call('GET', '/v1/datasets/ehr2', { token: admin.token })).status).toBe(404);
    expect((await app.db.sql`SELECT count(*)::int AS n FROM principals`)[0]!.n).toBe(peopleBefore);
    expect((await app.call('GET', `/v1/principals/${rita.id}`, { token: admin.token })).body.attributes).toEqual({});
    expect(await app.db.sql`SELECT id FROM baas`).toHaveLength(0);
    expect((await app.call('POST', '/v1/decisions', { token: admin.token, body: request })).body.effect).toBe('deny');
  });

  it('after step-up, records a BAA and audits it as catalog.baa.created', async () => {
    await loginAs(app, admin);
    const created = await app.call('POST', '/v1/vendors/acme/baas', { token: admin.token, body: baa });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const events = await app.db.sql`SELECT * FROM audit_events WHERE type = 'catalog.baa.created' AND details->'after'->>'id' = ${created.body.id}`;
    expect(events).toHaveLength(1);
    expect(events[0]!.outcome).toBe('success');
    expect(events[0]!.actor_id).toBe(admin.id);
    expect(events[0]!.details).toMatchObject({ vendor_id: 'acme', after: { id: created.body.id, reference: 'BAA-1' } });
  });
});

describe('f6: anonymous guessing is throttled', () => {
  let app: TestApp;
  let clientId: string;
  let clientSecret: string;

  beforeAll(async () => {
    // Three attempts per account; ten per source (so a hundred passkey option requests).
    app = await startTestApp({ CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS: '3', CUSTOS_LOCKOUT_SOURCE_ATTEMPTS: '10' });
    const c = app.wired.catalog;
    const sponsor = await c.createPrincipal({ kind: 'user', name: 'sponsor' });
    await c.createProject({ id: 'p1', name: 'P1' });
    const svc = await c.createPrincipal({ kind: 'service', name: 'pep', sponsor_id: sponsor.id, project_id: 'p1' });
    await c.assignRole({ principal_id: svc.id, role_id: 'enforcement-point', project_id: null }, null);
    const issued = await createClientCredential(app.wired.catalogOps, { principalId: svc.id, actorId: sponsor.id, meta: { ip: undefined, requestId: undefined } });
    clientId = issued.client_id;
    clientSecret = issued.client_secret!;
  });
  afterAll(async () => app?.close());

  const asClient = (id: string, secret: string) =>
    app.call('POST', '/v1/decisions', { headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` }, body: {} });

  it('locks a client id after the account budget of wrong secrets, even against the right secret, until the lock ends', async () => {
    for (let i = 0; i < 3; i++) expectProblem(await asClient(clientId, `cs_wrong_${i}`), 401, 'unauthenticated');
    expectRateLimited(await asClient(clientId, 'cs_wrong_3'));
    expectRateLimited(await asClient(clientId, clientSecret));
    const [row] = await app.db.sql`SELECT locked_until FROM auth_throttle WHERE key = ${`client:${clientId}`}`;
    expect(row?.locked_until).toBeInstanceOf(Date);

    // Per client id: another id is still merely refused.
    expectProblem(await asClient('svc_other', 'cs_wrong'), 401, 'unauthenticated');

    // After the lock, the right secret authenticates (and the empty body is then refused as invalid).
    app.clock.advance(61_000);
    expectProblem(await asClient(clientId, clientSecret), 400, 'invalid_request');
  });

  it('bounds anonymous passkey login options per source at ten times the source budget', async () => {
    const before = (await app.db.sql`SELECT count(*)::int AS n FROM webauthn_challenges`)[0]!.n as number;
    const answers: Answer[] = [];
    for (let i = 0; i < 100; i++) answers.push(await app.call('POST', '/v1/auth/passkey/options'));
    expect(tally(answers)).toEqual({ 200: 100 });
    expectRateLimited(await app.call('POST', '/v1/auth/passkey/options'));
    expect((await app.db.sql`SELECT count(*)::int AS n FROM webauthn_challenges`)[0]!.n).toBe(before + 100);
  });
});

describe('f7: sessions, problems and role names', () => {
  let app: TestApp;
  let admin: Person;
  let sam: Person;

  beforeAll(async () => {
    app = await startTestApp(LONG_SESSIONS);
    admin = await adminOf(app);
    sam = await personDirect(app, 'sam');
    expect((await app.call('POST', '/v1/projects', { token: admin.token, body: { id: 'p1', name: 'P1' } })).status).toBe(201);
  });
  afterAll(async () => app?.close());

  it('ends the old sessions of a person who redeems a re-issued enrollment', async () => {
    await loginAs(app, admin);
    const old = sam.token;
    expect((await app.call('GET', '/v1/me', { token: old })).status).toBe(200);
    // A recovery: one administrator proposes, a second one approves and receives the secret.
    const second = await personDirect(app, 'second-admin', [{ role: 'system-administrator' }]);
    const secret = await issueSecret(app, admin, second, sam.id);
    sam = await enrollPerson(app, { id: sam.id, username: sam.username, secret, password: 'a brand new passphrase 9!' });
    expectProblem(await app.call('GET', '/v1/me', { token: old }), 401, 'unauthenticated');
    expect((await app.call('GET', '/v1/me', { token: sam.token })).status).toBe(200);
  });

  it('does not announce session touches on the catalog channel (catalog changes still are)', async () => {
    const seen: string[] = [];
    const sub = await app.db.sql.listen(CATALOG_CHANNEL, (table) => void seen.push(table));
    try {
      for (let i = 0; i < 5; i++) {
        app.clock.advance(1_000);
        expect((await app.call('GET', '/v1/me', { token: sam.token })).status).toBe(200);
      }
      // A catalog change afterwards: once it is seen, anything sent before it has been delivered too.
      await app.wired.catalog.createVendor({ id: 'marker', name: 'Marker' });
      const deadline = Date.now() + 2_000;
      while (!seen.includes('vendors') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toContain('vendors');
      expect(seen).not.toContain('sessions');
    } finally {
      await sub.unlisten();
    }
  });

  it('names the field, not the constraint, in a problem for an unknown reference', async () => {
    await loginAs(app, admin);
    const r = await app.call('POST', '/v1/datasets', {
      token: admin.token,
      body: { id: 'x', project_id: 'p1', owner_id: randomUUID(), purposes: ['research'], columns: [{ name: 'a' }] },
    });
    expectProblem(r, 400, 'invalid_request');
    expect(r.body.errors).toEqual([{ path: 'body.owner_id', message: 'unknown reference' }]);
    expect(JSON.stringify(r.body)).not.toMatch(/fkey|datasets_/);
  });

  it('treats a role named after an Object.prototype member as a role without management permissions', async () => {
    await loginAs(app, admin);
    const role = await app.call('POST', '/v1/roles', { token: admin.token, body: { id: 'constructor' } });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    const assigned = await app.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: sam.id, role_id: 'constructor' } });
    expect(assigned.status, JSON.stringify(assigned.body)).toBe(201);
    await loginAs(app, sam);
    const me = await app.call('GET', '/v1/me', { token: sam.token });
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expectProblem(await app.call('GET', '/v1/datasets', { token: sam.token }), 403, 'forbidden');

    expect([...permissionsOf(['constructor', 'toString', '__proto__', 'hasOwnProperty'])]).toEqual([]);
    expect([...permissionsOf(['constructor', 'security-reviewer'])]).toEqual(['catalog:read', 'access:review', 'audit:read', 'policy:read', 'alerts:manage', 'incidents:manage']);
  });
});
