/**
 * POST /v1/decisions (and /batch) over real HTTP against a real PostgreSQL,
 * set up entirely through the admin API: a project, a PHI dataset, a data
 * scientist, a training job they sponsor, and an enforcement point that
 * authenticates with client credentials (HTTP Basic).
 *
 * What must hold:
 * - minimum necessary: only the granted columns, `*` refused on PHI, the
 *   reason names the column; a job never exceeds its sponsor;
 * - who may ask: an enforcement point (pdp:check) or an administrator;
 *   wrong or revoked secrets → 401 at once; no pdp:check → 403;
 * - every answered decision, allow or deny, has exactly one decision_log row
 *   that says the same thing (and nothing else leaves a row);
 * - fail closed: when the record cannot be committed the same request that
 *   was allowed gets 503 `unavailable` — never an allow — and recovers;
 * - group commit under 200 concurrent decisions: all answered, all recorded,
 *   fewer transactions than records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { createDecisionLogWriter } from '../../src/audit/postgres/decisionLogWriter.ts';
import { adminOf, enrollPerson, loginAs, personDirect, sponsorCredentials, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let scientist: Person;
/** A training job (service) sponsored by the scientist, with the same project role. */
let jobId: string;
/** A job whose sponsor holds no role at all. */
let orphanJobId: string;
let bystanderId: string;
/** The enforcement point (role enforcement-point org-wide) and its credentials. */
let epId: string;
let ep: Creds;
/** A service with credentials but without pdp:check. */
let plainSvc: Creds;

const PROJECT = 'oncology';
const DATASET = 'onc.notes';
/** Granted to a data scientist by scientist-own-project-phi: every column but direct identifiers. */
const PERMITTED = ['age_group', 'diagnosis', 'admit_date'];
const OBLIGATIONS = [{ type: 'no-export' }, { type: 'review-within-24h' }];

interface Creds {
  credential_id: string;
  client_id: string;
  client_secret: string;
}

const basic = (c: { client_id: string; client_secret: string }) => `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`;

let seq = 0;
/** A fresh, well-formed X-Request-Id. */
const rid = () => `dec-test-${String(++seq).padStart(5, '0')}`;

interface Ask {
  principal_id: string;
  dataset: string;
  purpose: string;
  columns: string[] | '*';
  action?: string;
}

/** Every decision the API answered: id → what it said, to whom, for what. */
const answered = new Map<string, { decision: any; request: Ask; requestId: string; callerId: string }>();

/** Sends a decision request; `as` is an Authorization header value (defaults to the enforcement point). */
async function decideHttp(request: Ask, o: { as?: string; requestId?: string; path?: string; body?: unknown } = {}) {
  const requestId = o.requestId ?? rid();
  const res = await app.call('POST', o.path ?? '/v1/decisions', {
    headers: { authorization: o.as ?? basic(ep), 'x-request-id': requestId },
    body: o.body ?? request,
  });
  return { ...res, requestId };
}

/** Asserts the decision_log row of an answered decision says exactly what the answer said. */
async function expectRecorded(decision: any, request: Ask, requestId: string, callerId: string, sponsorId: string | null = null) {
  const rows = await app.db.sql`SELECT * FROM decision_log WHERE id = ${decision.decision_id}`;
  expect(rows, `decision ${decision.decision_id} has exactly one record`).toHaveLength(1);
  const row = rows[0]!;
  expect({
    id: row.id,
    effect: row.effect,
    rules: row.rules,
    reasons: row.reasons,
    granted_columns: row.granted_columns,
    denied_columns: row.denied_columns,
    policy_version: row.policy_version,
    decided_at: new Date(row.at).toISOString(),
    principal_id: row.principal_id,
    sponsor_id: row.sponsor_id,
    dataset_id: row.dataset_id,
    action: row.action,
    purpose: row.purpose,
    request_id: row.request_id,
    caller_id: row.caller_id,
  }).toEqual({
    id: decision.decision_id,
    effect: decision.effect,
    rules: decision.rules,
    reasons: decision.reasons,
    granted_columns: decision.granted_columns,
    denied_columns: decision.denied_columns,
    policy_version: decision.policy_version,
    decided_at: decision.decided_at,
    principal_id: request.principal_id,
    sponsor_id: sponsorId,
    dataset_id: request.dataset,
    action: request.action ?? 'dataset:read',
    purpose: request.purpose,
    request_id: requestId,
    caller_id: callerId,
  });
  answered.set(decision.decision_id, { decision, request, requestId, callerId });
}

/** Asks, expects 200, checks the record; returns the decision. */
async function decided(request: Ask, o: { as?: string; callerId?: string; sponsorId?: string | null } = {}) {
  const res = await decideHttp(request, { as: o.as });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.headers.get('x-request-id')).toBe(res.requestId);
  await expectRecorded(res.body, request, res.requestId, o.callerId ?? epId, o.sponsorId ?? null);
  return res.body;
}

function expectProblem(r: { status: number; body: any; headers: Headers }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body.code).toBe(code);
  // A refusal is never dressed as a decision.
  expect(r.body).not.toHaveProperty('effect');
  expect(r.body).not.toHaveProperty('decision_id');
  expect(r.body).not.toHaveProperty('granted_columns');
}

async function rowsWithRequestId(requestId: string): Promise<number> {
  const [r] = await app.db.sql`SELECT count(*)::int AS n FROM decision_log WHERE request_id = ${requestId}`;
  return r!.n as number;
}
async function totalRows(): Promise<number> {
  const [r] = await app.db.sql`SELECT count(*)::int AS n FROM decision_log`;
  return r!.n as number;
}

async function created(path: string, body: unknown): Promise<any> {
  const r = await app.call('POST', path, { token: admin.token, body });
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
const assign = (principal_id: string, role_id: string, project_id: string | null = null) => created('/v1/role-assignments', { principal_id, role_id, project_id });
const service = (name: string, sponsor_id: string) => created('/v1/principals', { kind: 'service', name, sponsor_id, project_id: PROJECT });
const credentials = (id: string): Promise<Creds> => created(`/v1/principals/${id}/credentials`, {});

const ask = (principal_id: string, over: Partial<Ask> = {}): Ask => ({ principal_id, dataset: DATASET, purpose: 'model-training', columns: PERMITTED, ...over });

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  await created('/v1/projects', { id: PROJECT, name: 'Oncology' });
  const ds = await created('/v1/datasets', {
    id: DATASET,
    project_id: PROJECT,
    owner_id: admin.id,
    purposes: ['model-training', 'research'],
    columns: [
      { name: 'patient_name', category: 'names' },
      { name: 'mrn', category: 'mrn' },
      { name: 'admit_date', type: 'date', category: 'dates' },
      { name: 'age_group', type: 'integer' },
      { name: 'diagnosis' },
    ],
  });
  if (ds.classification !== 'phi') throw new Error(`dataset classified ${ds.classification}`);

  // Enrolled without the administrator receiving her secret, so her role is assigned at once (see test/http/catalog.test.ts).
  scientist = await personDirect(app, 'dana.scientist');
  await assign(scientist.id, 'data-scientist', PROJECT);

  jobId = (await service('train-job-1', scientist.id)).id;
  await assign(jobId, 'data-scientist', PROJECT);

  bystanderId = (await created('/v1/principals', { kind: 'user', name: 'bystander' })).id;
  orphanJobId = (await service('train-job-orphan', bystanderId)).id;
  await assign(orphanJobId, 'data-scientist', PROJECT);

  epId = (await service('feature-store', admin.id)).id;
  await assign(epId, 'enforcement-point');
  ep = await credentials(epId);
  expect(ep.client_id).toMatch(/^svc_/);
  expect(ep.client_secret).toMatch(/^cs_/);

  const plain = (await service('etl-worker', admin.id)).id;
  plainSvc = await credentials(plain);
});
afterAll(async () => app?.close());

describe('answers for an enforcement point (HTTP Basic client credentials)', () => {
  it('allows the scientist the permitted columns, with rules, obligations, policy version and granted columns', async () => {
    const d = await decided(ask(scientist.id));
    expect(d).toMatchObject({
      effect: 'allow',
      rules: ['scientist-own-project-phi'],
      reasons: [],
      granted_columns: PERMITTED,
      denied_columns: [],
      obligations: OBLIGATIONS,
      policy_version: app.wired.policy.current().version,
      break_glass: false,
    });
    expect(d.decision_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('stores obligations and the request as JSON values a reviewer can query, not as JSON-encoded strings', async () => {
    const d = await decided(ask(jobId), { sponsorId: scientist.id });
    expect(d.obligations).toEqual(OBLIGATIONS);
    const [row] = await app.db.sql`
      SELECT obligations, jsonb_typeof(obligations) AS obligations_type, jsonb_typeof(input) AS input_type,
             input->'principal'->>'id' AS input_principal, input->'sponsor'->>'id' AS input_sponsor, input->'dataset'->>'id' AS input_dataset
      FROM decision_log WHERE id = ${d.decision_id}`;
    expect(row).toEqual({
      obligations: OBLIGATIONS,
      obligations_type: 'array',
      input_type: 'object',
      input_principal: jobId,
      input_sponsor: scientist.id,
      input_dataset: DATASET,
    });
  });

  it('denies a names column and names it (with what was grantable) — and records the deny', async () => {
    const d = await decided(ask(scientist.id, { columns: ['age_group', 'patient_name'] }));
    expect(d.effect).toBe('deny');
    expect(d.denied_columns).toEqual(['patient_name']);
    expect(d.reasons.join(' ')).toContain('patient_name');
    expect(d.granted_columns).toEqual(expect.arrayContaining(PERMITTED));
    expect(d.granted_columns).not.toContain('patient_name');
    expect(d.granted_columns).not.toContain('mrn');
    expect(d.obligations).toEqual([]);
  });

  it('refuses "*" on a PHI dataset', async () => {
    const d = await decided(ask(scientist.id, { columns: '*' }));
    expect(d.effect).toBe('deny');
    expect(d.reasons.join(' ')).toMatch(/"\*" are refused on phi/);
    expect(d.granted_columns).toEqual([]);
  });

  it('denies a purpose the rule does not cover', async () => {
    const d = await decided(ask(scientist.id, { purpose: 'research' }));
    expect(d.effect).toBe('deny');
    expect(d.rules).toEqual([]);
  });

  it('a training job gets what its sponsor could get, never more', async () => {
    const allowed = await decided(ask(jobId), { sponsorId: scientist.id });
    expect(allowed).toMatchObject({ effect: 'allow', rules: ['scientist-own-project-phi'], granted_columns: PERMITTED, obligations: OBLIGATIONS });
    const names = await decided(ask(jobId, { columns: ['diagnosis', 'mrn'] }), { sponsorId: scientist.id });
    expect(names).toMatchObject({ effect: 'deny', denied_columns: ['mrn'] });
  });

  it('a job whose sponsor lacks the role is denied, saying so', async () => {
    const d = await decided(ask(orphanJobId), { sponsorId: bystanderId });
    expect(d.effect).toBe('deny');
    expect(d.granted_columns).toEqual([]);
    expect(d.reasons.length).toBeGreaterThan(0);
    for (const r of d.reasons) expect(r).toMatch(/^sponsor lacks access: /);
  });

  it('an unknown dataset or principal is 404, not a decision', async () => {
    const before = await totalRows();
    const ds = await decideHttp(ask(scientist.id, { dataset: 'no-such-dataset' }));
    expectProblem(ds, 404, 'not_found');
    const p = await decideHttp(ask('00000000-0000-7000-8000-000000000000'));
    expectProblem(p, 404, 'not_found');
    expect(await totalRows()).toBe(before);
  });

  it('a malformed request is 400 and leaves no record', async () => {
    const before = await totalRows();
    const r = await decideHttp(ask(scientist.id), { body: { ...ask(scientist.id), role: 'system-administrator' } });
    expectProblem(r, 400, 'invalid_request');
    expect(await totalRows()).toBe(before);
  });
});

describe('the lean lane and the express lane answer alike', () => {
  it('same decision, security headers, request id and problems with and without a query string (which takes express)', async () => {
    const lean = await decideHttp(ask(scientist.id));
    const viaExpress = await decideHttp(ask(scientist.id), { path: '/v1/decisions?via=express' });
    expect(lean.status).toBe(200);
    expect(viaExpress.status).toBe(200);
    // Both are recorded like any other answer (the log-wide checks below count them).
    await expectRecorded(lean.body, ask(scientist.id), lean.requestId, epId, null);
    await expectRecorded(viaExpress.body, ask(scientist.id), viaExpress.requestId, epId, null);
    expect(viaExpress.body.effect).toBe(lean.body.effect);
    expect(viaExpress.body.granted_columns).toEqual(lean.body.granted_columns);
    for (const h of ['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'cache-control', 'content-type']) {
      expect(lean.headers.get(h), h).toBe(viaExpress.headers.get(h));
      expect(lean.headers.get(h), h).toBeTruthy();
    }
    expect(lean.headers.get('x-powered-by')).toBeNull();
    for (const path of ['/v1/decisions', '/v1/decisions?via=express']) {
      const bad = await app.call('POST', path, { headers: { authorization: basic(ep), 'x-request-id': 'lane-check-0001' }, body: '{"principal_id":' });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(bad.body).toMatchObject({ code: 'invalid_request', request_id: 'lane-check-0001' });
      expect(bad.headers.get('x-request-id')).toBe('lane-check-0001');
      const unauth = await app.call('POST', path, { body: ask(scientist.id) as never });
      expect(unauth.status).toBe(401);
      expect(unauth.headers.get('www-authenticate')).toBe('Bearer realm="custos"');
      expect(unauth.headers.get('content-security-policy')).toBeTruthy();
    }
  });
});

describe('who may ask', () => {
  it('a wrong secret is 401', async () => {
    const r = await decideHttp(ask(scientist.id), { as: basic({ client_id: ep.client_id, client_secret: `${ep.client_secret}x` }) });
    expectProblem(r, 401, 'unauthenticated');
    const unknown = await decideHttp(ask(scientist.id), { as: basic({ client_id: 'svc_nobody', client_secret: ep.client_secret }) });
    expectProblem(unknown, 401, 'unauthenticated');
    expect(await rowsWithRequestId(r.requestId)).toBe(0);
  });

  it('no credentials at all is 401', async () => {
    const r = await app.call('POST', '/v1/decisions', { body: ask(scientist.id) });
    expectProblem(r, 401, 'unauthenticated');
  });

  it('a revoked credential is refused at once, even right after it was used', async () => {
    const second = await credentials(epId);
    // Used successfully (and so remembered by the verification cache)…
    await decided(ask(scientist.id), { as: basic(second) });
    const del = await app.call('DELETE', `/v1/principals/${epId}/credentials/${second.credential_id}`, { token: admin.token });
    expect(del.status, JSON.stringify(del.body)).toBe(204);
    // …and refused on the very next request.
    const r = await decideHttp(ask(scientist.id), { as: basic(second) });
    expectProblem(r, 401, 'unauthenticated');
    expect(await rowsWithRequestId(r.requestId)).toBe(0);
    // The enforcement point's other credential is unaffected.
    await decided(ask(scientist.id));
  });

  it("an enforcement point that is disabled, or whose sponsor is disabled, is refused at once", async () => {
    const owner = await created('/v1/principals', { kind: 'user', name: 'ep-owner' });
    const sponsor = owner.id as string;
    const ep2 = (await service('feature-store-2', sponsor)).id;
    await assign(ep2, 'enforcement-point');
    // Its sponsor creates its credentials, in their own session (nobody else can).
    const ownerPerson = await enrollPerson(app, { id: sponsor, username: 'ep-owner', secret: owner.enrollment.secret });
    const creds = (await sponsorCredentials(app, ownerPerson, ep2)) as Creds;
    await loginAs(app, admin);
    const setStatus = async (id: string, status: 'active' | 'disabled') => {
      const r = await app.call('PATCH', `/v1/principals/${id}`, { token: admin.token, body: { status } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    };
    await decided(ask(scientist.id), { as: basic(creds), callerId: ep2 });

    await setStatus(sponsor, 'disabled');
    const sponsorOff = await decideHttp(ask(scientist.id), { as: basic(creds) });
    expectProblem(sponsorOff, 401, 'unauthenticated');
    await setStatus(sponsor, 'active');
    await decided(ask(scientist.id), { as: basic(creds), callerId: ep2 });

    await setStatus(ep2, 'disabled');
    const selfOff = await decideHttp(ask(scientist.id), { as: basic(creds) });
    expectProblem(selfOff, 401, 'unauthenticated');
    expect(await rowsWithRequestId(sponsorOff.requestId)).toBe(0);
    expect(await rowsWithRequestId(selfOff.requestId)).toBe(0);
  });

  it('a service without pdp:check is 403', async () => {
    const r = await decideHttp(ask(scientist.id), { as: basic(plainSvc) });
    expectProblem(r, 403, 'forbidden');
    expect(await rowsWithRequestId(r.requestId)).toBe(0);
  });

  it('a person without pdp:check is 403', async () => {
    const r = await decideHttp(ask(scientist.id), { as: `Bearer ${scientist.token}` });
    expectProblem(r, 403, 'forbidden');
    expect(await rowsWithRequestId(r.requestId)).toBe(0);
  });

  it('client credentials are accepted only where the route says so', async () => {
    const r = await app.call('GET', '/v1/projects', { headers: { authorization: basic(ep) } });
    expectProblem(r, 401, 'unauthenticated');
  });

  it('an administrator can ask "what if" with a session, and is recorded as the caller', async () => {
    const d = await decided(ask(scientist.id), { as: `Bearer ${admin.token}`, callerId: admin.id });
    expect(d.effect).toBe('allow');
  });
});

describe('batch', () => {
  it('answers in request order, and records each decision', async () => {
    const requests = [ask(scientist.id), ask(scientist.id, { columns: ['patient_name'] }), ask(jobId), ask(orphanJobId), ask(scientist.id, { columns: '*' })];
    const r = await decideHttp(requests[0]!, { path: '/v1/decisions/batch', body: { requests } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const decisions: any[] = r.body.decisions;
    expect(decisions.map((d) => d.effect)).toEqual(['allow', 'deny', 'allow', 'deny', 'deny']);
    expect(new Set(decisions.map((d) => d.decision_id)).size).toBe(requests.length);
    const sponsors = [null, null, scientist.id, bystanderId, null];
    for (let i = 0; i < requests.length; i++) await expectRecorded(decisions[i], requests[i]!, r.requestId, epId, sponsors[i]);
    expect(await rowsWithRequestId(r.requestId)).toBe(requests.length);
  });
});

describe('disabling the sponsor disables its jobs', () => {
  it('denies the job (and the sponsor) while the sponsor is disabled, and allows again once re-enabled', async () => {
    expect((await decided(ask(jobId), { sponsorId: scientist.id })).effect).toBe('allow');
    const off = await app.call('PATCH', `/v1/principals/${scientist.id}`, { token: admin.token, body: { status: 'disabled' } });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    try {
      const job = await decided(ask(jobId), { sponsorId: scientist.id });
      expect(job.effect).toBe('deny');
      expect(job.granted_columns).toEqual([]);
      expect(job.reasons.join(' ')).toContain(`sponsor ${scientist.id} is disabled`);
      const own = await decided(ask(scientist.id));
      expect(own.effect).toBe('deny');
      expect(own.reasons.join(' ')).toContain('disabled');
    } finally {
      const on = await app.call('PATCH', `/v1/principals/${scientist.id}`, { token: admin.token, body: { status: 'active' } });
      expect(on.status, JSON.stringify(on.body)).toBe(200);
    }
    expect((await decided(ask(jobId), { sponsorId: scientist.id })).effect).toBe('allow');
  });
});

describe('fail closed: no answer without its record', () => {
  it('when the decision log refuses the write, the request that was allowed gets 503 — never an allow — and recovers', async () => {
    const before = await decided(ask(scientist.id));
    expect(before.effect).toBe('allow');
    const sql = app.db.sql;
    // What an INSERT sees when its permission is revoked or a guard refuses it
    // (the test's connection is a superuser, so REVOKE would not bite).
    await sql.unsafe(`CREATE OR REPLACE FUNCTION test_refuse_decision_log() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'permission denied for table decision_log' USING ERRCODE = '42501'; END $$`);
    await sql.unsafe('CREATE TRIGGER test_refuse BEFORE INSERT ON decision_log FOR EACH ROW EXECUTE FUNCTION test_refuse_decision_log()');
    const failedIds: string[] = [];
    try {
      const rowsBefore = await totalRows();
      for (const request of [ask(scientist.id), ask(jobId), ask(scientist.id, { columns: ['patient_name'] })]) {
        const r = await decideHttp(request);
        failedIds.push(r.requestId);
        expectProblem(r, 503, 'unavailable');
        expect(JSON.stringify(r.body)).not.toMatch(/allow|decision_log|permission|42501/);
      }
      const batch = await decideHttp(ask(scientist.id), { path: '/v1/decisions/batch', body: { requests: [ask(scientist.id), ask(jobId)] } });
      failedIds.push(batch.requestId);
      expectProblem(batch, 503, 'unavailable');
      // An administrator's "what if" is no exception.
      const whatIf = await decideHttp(ask(scientist.id), { as: `Bearer ${admin.token}` });
      failedIds.push(whatIf.requestId);
      expectProblem(whatIf, 503, 'unavailable');
      expect(await totalRows()).toBe(rowsBefore);
    } finally {
      await sql.unsafe('DROP TRIGGER IF EXISTS test_refuse ON decision_log');
      await sql.unsafe('DROP FUNCTION IF EXISTS test_refuse_decision_log()');
    }
    // The same request works again, without a restart.
    const after = await decided(ask(scientist.id));
    expect(after).toMatchObject({ effect: 'allow', granted_columns: PERMITTED });
    for (const id of failedIds) expect(await rowsWithRequestId(id)).toBe(0);
  });

  it('when the database turns read-only, the request that was allowed gets 503, and recovers when it is writable again', async () => {
    expect((await decided(ask(scientist.id))).effect).toBe('allow');
    const { admin: superuser, name, sql } = app.db;
    /** Makes every connection of the app's pool see `value`: the setting applies to new sessions only. */
    async function reconnectUntil(value: 'on' | 'off') {
      await superuser`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`;
      for (let attempt = 0; attempt < 50; attempt++) {
        // Enough parallel queries to touch every pooled connection.
        const seen = await Promise.all(
          Array.from({ length: 10 }, () =>
            sql`SELECT current_setting('default_transaction_read_only') AS v, pg_sleep(0.02)`.then(
              ([r]) => r!.v as string,
              () => 'error',
            ),
          ),
        );
        if (seen.every((v) => v === value)) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`connections never saw default_transaction_read_only=${value}`);
    }
    await superuser.unsafe(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
    const failedIds: string[] = [];
    try {
      await reconnectUntil('on');
      const rowsBefore = await totalRows();
      for (let i = 0; i < 3; i++) {
        const r = await decideHttp(ask(scientist.id));
        failedIds.push(r.requestId);
        expectProblem(r, 503, 'unavailable');
        expect(JSON.stringify(r.body)).not.toMatch(/allow|read-only|25006/);
      }
      expect(await totalRows()).toBe(rowsBefore);
    } finally {
      await superuser.unsafe(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
      await reconnectUntil('off');
    }
    expect((await decided(ask(scientist.id))).effect).toBe('allow');
    for (const id of failedIds) expect(await rowsWithRequestId(id)).toBe(0);
  });
});

describe('under load', () => {
  it('200 concurrent decisions: all answered, each recorded once, group commit batching them', async () => {
    const log = app.wired.decisions.log as ReturnType<typeof createDecisionLogWriter>;
    expect(log.stats).toBeDefined();
    const statsBefore = { ...log.stats };
    const rowsBefore = await totalRows();
    const requests = Array.from({ length: 200 }, (_, i) => (i % 4 === 3 ? ask(scientist.id, { columns: ['mrn'] }) : i % 2 ? ask(jobId) : ask(scientist.id)));
    const results = await Promise.all(requests.map((r) => decideHttp(r)));
    expect(results.map((r) => r.status)).toEqual(requests.map(() => 200));
    const ids = results.map((r) => r.body.decision_id as string);
    expect(new Set(ids).size).toBe(200);
    expect(results.filter((r) => r.body.effect === 'allow')).toHaveLength(150);

    expect(await totalRows()).toBe(rowsBefore + 200);
    const rows = await app.db.sql`SELECT id, effect, request_id, principal_id, granted_columns FROM decision_log WHERE id = ANY(${ids}::uuid[])`;
    expect(rows).toHaveLength(200);
    const byId = new Map(rows.map((r: any) => [r.id as string, r]));
    results.forEach((r, i) => {
      const row = byId.get(r.body.decision_id)!;
      expect(row.effect).toBe(r.body.effect);
      expect(row.request_id).toBe(r.requestId);
      expect(row.principal_id).toBe(requests[i]!.principal_id);
      expect(row.granted_columns).toEqual(r.body.granted_columns);
      answered.set(r.body.decision_id, { decision: r.body, request: requests[i]!, requestId: r.requestId, callerId: epId });
    });

    const items = log.stats.items - statsBefore.items;
    const batches = log.stats.batches - statsBefore.batches;
    expect(items).toBe(200);
    // Shared commits: fewer transactions than records.
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(items);
    expect(log.stats.failedBatches).toBe(statsBefore.failedBatches);
  });
});

describe('the log as a whole', () => {
  it('holds exactly one row per answered decision, and no row for anything refused', async () => {
    expect(answered.size).toBeGreaterThan(200);
    expect(await totalRows()).toBe(answered.size);
    const rows = await app.db.sql`SELECT id FROM decision_log`;
    for (const r of rows) expect(answered.has(r.id as string), `row ${r.id} was answered`).toBe(true);
  });
});
