/**
 * An administrator's what-if is not a disclosure. `POST /v1/decisions` asked
 * from an administrator's session answers "what if" and releases nothing, so
 * the accounting of disclosures (HIPAA §164.528) leaves it out; a token
 * issued to a training job and an enforcement point's decision are releases
 * and are listed. The flag rides inside the hashed record (`input.release`):
 * records written before it existed (no flag) still verify and are still
 * listed, and flipping it on a stored record breaks its chain.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { adminOf, basicAuth, form, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { appendLogRows } from '../support/db.ts';
import { tamper } from '../support/logs.ts';

let app: TestApp;
let admin: Person; // system administrator: holds pdp:check through a session
let rev: Person; // security reviewer: runs the report
let sci: Person; // data scientist of onc
let pep: string; // enforcement point's Basic header
let job: string; // sci's training job (Basic header)
let briefJob: { id: string; basic: string }; // another of sci's jobs, whose own access rests on a grant
const FROM = '2020-01-01T00:00:00Z';
const TO = '2100-01-01T00:00:00Z';
const ASK = () => ({ principal_id: sci.id, dataset: 'onc-notes', purpose: 'model-training', columns: ['note_text'] });

async function credential(principalId: string, createdBy: string): Promise<string> {
  const c = await createClientCredential(app.wired.catalogOps, { principalId, actorId: createdBy, meta: { ip: undefined, requestId: undefined } });
  return basicAuth(c.client_id, c.client_secret!);
}

async function disclosures(): Promise<string[]> {
  const r = await app.call('GET', `/v1/reports/disclosures?dataset=onc-notes&from=${FROM}&to=${TO}`, { token: rev.token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.items.map((i: { decision_id: string }) => i.decision_id);
}

async function stored(id: string) {
  const [row] = await app.db.sql`SELECT effect, caller_id, input FROM decision_log WHERE id = ${id}`;
  return row!;
}

beforeAll(async () => {
  app = await startTestApp();
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  admin = await adminOf(app);
  rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  sci = await personDirect(app, 'sci', [{ role: 'data-scientist', project: 'onc' }]);
  await c.createDataset({
    id: 'onc-notes',
    project_id: 'onc',
    owner_id: sci.id,
    purposes: ['model-training'],
    columns: [
      { name: 'patient_name', type: 'string', category: 'names' },
      { name: 'note_text', type: 'string' },
    ],
  });
  const pepP = await c.createPrincipal({ kind: 'service', name: 'notes-server', sponsor_id: admin.id, project_id: 'onc' });
  await c.assignRole({ principal_id: pepP.id, role_id: 'enforcement-point', project_id: null }, null);
  pep = await credential(pepP.id, admin.id);
  const jobP = await c.createPrincipal({ kind: 'service', name: 'train-onc', sponsor_id: sci.id, project_id: 'onc' });
  await c.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  job = await credential(jobP.id, sci.id);
  const briefP = await c.createPrincipal({ kind: 'service', name: 'train-brief', sponsor_id: sci.id, project_id: 'onc' });
  briefJob = { id: briefP.id, basic: await credential(briefP.id, sci.id) };
});
beforeEach(async () => {
  for (const p of [admin, rev]) await loginAs(app, p);
});
afterAll(async () => {
  await app?.close();
});

describe('the accounting of disclosures', () => {
  let whatIf: string;
  let whatIfBatch: string[];
  let enforced: string;
  let tokenDecision: string;

  it('an administrator’s what-if is answered, recorded as a what-if, and not listed', async () => {
    const r = await app.call('POST', '/v1/decisions', { token: admin.token, body: ASK() });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // The same allow an enforcement point would get: only the use differs.
    expect(r.body).toMatchObject({ effect: 'allow', granted_columns: ['note_text'], release: false });
    whatIf = r.body.decision_id;
    const batch = await app.call('POST', '/v1/decisions/batch', { token: admin.token, body: { requests: [ASK(), ASK()] } });
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    expect(batch.body.decisions.map((d: any) => [d.effect, d.release])).toEqual([['allow', false], ['allow', false]]);
    whatIfBatch = batch.body.decisions.map((d: any) => d.decision_id);
    for (const id of [whatIf, ...whatIfBatch]) {
      const row = await stored(id);
      expect(row).toMatchObject({ effect: 'allow', caller_id: admin.id });
      expect(row.input.release).toBe(false);
    }
    const listed = await disclosures();
    for (const id of [whatIf, ...whatIfBatch]) expect(listed).not.toContain(id);
  });

  it('an enforcement point’s decision and a token issuance are releases, and are listed', async () => {
    const d = await app.call('POST', '/v1/decisions', { headers: { authorization: pep }, body: ASK() });
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    expect(d.body).toMatchObject({ effect: 'allow', release: true });
    enforced = d.body.decision_id;
    const t = await app.call('POST', '/oauth2/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: job },
      body: form({ grant_type: 'client_credentials', job_id: 'job-42', authorization_details: JSON.stringify([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text'], purpose: 'model-training' }]) }),
    });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    tokenDecision = JSON.parse(Buffer.from(t.body.access_token.split('.')[1], 'base64url').toString()).decision_id;
    // A person's session that holds the enforcement-point role serves data like any enforcement point: a release.
    const ops = await personDirect(app, 'ops', [{ role: 'enforcement-point' }]);
    const bySession = await app.call('POST', '/v1/decisions', { token: ops.token, body: ASK() });
    expect(bySession.status, JSON.stringify(bySession.body)).toBe(200);
    expect(bySession.body).toMatchObject({ effect: 'allow', release: true });
    expect((await stored(enforced)).input.release).toBe(true);
    expect((await stored(tokenDecision)).input.release).toBe(true);

    const listed = await disclosures();
    expect(listed).toContain(enforced);
    expect(listed).toContain(tokenDecision);
    expect(listed).toContain(bySession.body.decision_id);
    expect(listed).not.toContain(whatIf);
    const r = await app.call('GET', `/v1/reports/disclosures?dataset=onc-notes&from=${FROM}&to=${TO}`, { token: rev.token });
    const item = r.body.items.find((i: any) => i.decision_id === tokenDecision);
    expect(item).toMatchObject({ principal_kind: 'service', sponsor_id: sci.id, job: { job_id: 'job-42' } });
  });

  it('a token request allowed on a grant that ends within this second gets no token: no release, not listed', async () => {
    const now = app.clock.now().getTime();
    const ms = now % 1000;
    // Seeded like the token tests do: a grant ending before the next second, so the token would expire at its own iat.
    await app.db.sql`
      INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at, status)
      VALUES (${randomUUID()}, ${briefJob.id}, 'data-scientist', 'onc', ${new Date(now - 60_000)}, ${new Date(now + Math.max(1, Math.floor((1000 - ms) / 2)))}, 'active')`;
    await app.wired.invalidate();
    const t = await app.call('POST', '/oauth2/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: briefJob.basic },
      body: form({ grant_type: 'client_credentials', job_id: 'job-brief', authorization_details: JSON.stringify([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text'], purpose: 'model-training' }]) }),
    });
    expect(t.status, JSON.stringify(t.body)).toBe(400);
    expect(t.body.error).toBe('access_denied');
    const id = /decision ([0-9a-f-]{36})/.exec(t.body.error_description)![1]!;
    const row = await stored(id);
    expect(row.effect).toBe('allow');
    expect(row.input.release).toBe(false);
    expect(await disclosures()).not.toContain(id);
  });

  it('a record written before the flag existed still verifies and is still listed (err toward listing)', async () => {
    const old = randomUUID();
    app.clock.advance(1000);
    await appendLogRows(app.db.sql, 'decision_log', [
      {
        id: old, at: app.clock.now().toISOString(), principal_id: sci.id, dataset_id: 'onc-notes', project_id: 'onc', action: 'dataset:read',
        purpose: 'model-training', effect: 'allow', rules: ['scientist-own-project-phi'], reasons: [], granted_columns: ['note_text'], denied_columns: [],
        obligations: [], grant_ids: [], break_glass: false, policy_version: 'v0', latency_us: 1, caller_id: admin.id,
        input: { action: 'dataset:read', purpose: 'model-training', columns: ['note_text'], dataset: { id: 'onc-notes', project: 'onc', classification: 'phi' }, context: {} },
      },
    ]);
    expect((await stored(old)).input).not.toHaveProperty('release');
    expect(await disclosures()).toContain(old);
    const v = await app.call('GET', `/v1/audit/verify?from=${FROM}&to=${TO}`, { token: rev.token });
    expect(v.status, JSON.stringify(v.body)).toBe(200);
    expect(v.body.problems).toEqual([]);
    expect(v.body.ok).toBe(true);
  });

  it('turning a stored release into a what-if, to hide it from the accounting, breaks the chain at that record', async () => {
    await tamper(app.db.sql, (tx) => tx`UPDATE decision_log SET input = jsonb_set(input, '{release}', 'false'::jsonb) WHERE id = ${enforced}`);
    expect(await disclosures()).not.toContain(enforced);
    const v = await app.call('GET', `/v1/audit/verify?from=${FROM}&to=${TO}`, { token: rev.token });
    expect(v.body.ok).toBe(false);
    expect(v.body.problems[0]).toMatchObject({ log: 'decision_log', kind: 'altered', record_id: enforced });
  });
});
