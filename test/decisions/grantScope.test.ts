/**
 * A just-in-time grant's scope, end to end over HTTP: a grant scoped to
 * project B has no part in decisions about project A's datasets. It is not
 * cited on them (neither on a decision nor in a token's `grant_ids`), so its
 * revocation leaves A's tokens active at introspection, while it keeps doing
 * its job in B. Before the fix, the grant made project B "one's own" for
 * every condition and was cited on A's decisions too: revoking access to
 * cardiology ended the oncology training job.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { basicAuth, form, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let sci: Person; // standing data scientist of onc, sponsor of the job; granted data-scientist in cardio
let apa: Person; // approver
let apb: Person; // approver
let rev: Person; // security reviewer
let pep: string; // enforcement point's Basic header
let job: string; // sci's training job in onc (Basic header)
let cardioGrant: string;

const JUSTIFY = 'Validating the ECG arrhythmia model on the cardiology cohort (ticket ML-5120).';

async function credential(principalId: string, createdBy: string): Promise<string> {
  const c = await createClientCredential(app.wired.catalogOps, { principalId, actorId: createdBy, meta: { ip: undefined, requestId: undefined } });
  return basicAuth(c.client_id, c.client_secret!);
}

const decide = (principalId: string, dataset: string, columns: string[]) =>
  app.call('POST', '/v1/decisions', { headers: { authorization: pep }, body: { principal_id: principalId, dataset, purpose: 'model-training', columns } });
const introspect = (token: string) =>
  app.call('POST', '/oauth2/introspect', { headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: pep }, body: form({ token }) });
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

function tokenFor(dataset: string, columns: string[]) {
  return app.call('POST', '/oauth2/token', {
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: job },
    body: form({ grant_type: 'client_credentials', job_id: `job-${dataset}`, authorization_details: JSON.stringify([{ type: 'dataset_access', dataset, actions: ['read'], columns, purpose: 'model-training' }]) }),
  });
}

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_IDLE_TIMEOUT_SECONDS: '86400', CUSTOS_SESSION_TTL_SECONDS: '86400', CUSTOS_SESSION_MAX_SECONDS: '86400' });
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  await c.createProject({ id: 'cardio', name: 'Cardiology' });
  sci = await personDirect(app, 'sci', [{ role: 'data-scientist', project: 'onc' }]);
  apa = await personDirect(app, 'apa', [{ role: 'approver' }]);
  apb = await personDirect(app, 'apb', [{ role: 'approver' }]);
  rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  const columns = [
    { name: 'patient_name', type: 'string' as const, category: 'names' as const },
    { name: 'note_text', type: 'string' as const },
  ];
  await c.createDataset({ id: 'onc-notes', project_id: 'onc', owner_id: sci.id, purposes: ['model-training'], columns });
  await c.createDataset({ id: 'cardio-notes', project_id: 'cardio', owner_id: apa.id, purposes: ['model-training'], columns });
  const pepP = await c.createPrincipal({ kind: 'service', name: 'notes-server', sponsor_id: apa.id, project_id: 'onc' });
  await c.assignRole({ principal_id: pepP.id, role_id: 'enforcement-point', project_id: null }, null);
  pep = await credential(pepP.id, apa.id);
  // The enforcement point serves both datasets (introspection answers only for those).
  await app.db.sql`INSERT INTO resource_server_datasets (principal_id, dataset_id) VALUES (${pepP.id}, 'onc-notes'), (${pepP.id}, 'cardio-notes')`;
  const jobP = await c.createPrincipal({ kind: 'service', name: 'train-onc', sponsor_id: sci.id, project_id: 'onc' });
  await c.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  job = await credential(jobP.id, sci.id);

  // sci asks for data-scientist in cardio, and two approvers agree: a grant in project B.
  await loginAs(app, sci);
  const r = await app.call('POST', '/v1/access-requests', { token: sci.token, body: { role: 'data-scientist', project: 'cardio', duration_seconds: 7200, justification: JUSTIFY } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  for (const approver of [apa, apb]) {
    await loginAs(app, approver);
    const a = await app.call('POST', `/v1/access-requests/${r.body.id}/approve`, { token: approver.token, body: {} });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
  }
  const done = await app.call('GET', `/v1/access-requests/${r.body.id}`, { token: sci.token });
  expect(done.body.grant).toMatchObject({ role_id: 'data-scientist', project_id: 'cardio', state: 'active' });
  cardioGrant = done.body.grant.id;
});
beforeEach(async () => {
  for (const p of [sci, apa, apb, rev]) await loginAs(app, p);
});
afterAll(async () => {
  await app?.close();
});

describe('a grant scoped to project B', () => {
  it('is cited where it applies: on decisions about B’s datasets', async () => {
    const d = await decide(sci.id, 'cardio-notes', ['note_text']);
    expect(d.body.effect, JSON.stringify(d.body)).toBe('allow');
    expect(d.body.grant_ids).toEqual([cardioGrant]);
  });

  it('is not cited on a decision about project A’s dataset, nor in the recorded decision', async () => {
    const d = await decide(sci.id, 'onc-notes', ['note_text']);
    expect(d.body.effect, JSON.stringify(d.body)).toBe('allow');
    expect(d.body.rules).toEqual(['scientist-own-project-phi']);
    expect(d.body.grant_ids).toEqual([]);
    const [row] = await app.db.sql`SELECT grant_ids FROM decision_log WHERE id = ${d.body.decision_id}`;
    expect(row!.grant_ids).toEqual([]);
  });

  it('appears in the access review of B’s dataset only: on A’s, the scientist reads by standing role alone', async () => {
    const entries = async (dataset: string) => {
      const r = await app.call('GET', `/v1/reports/access-review?dataset=${dataset}`, { token: rev.token });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.datasets[0].access.filter((e: any) => e.principal_id === sci.id).map((e: any) => [e.basis, e.grant_ids]);
    };
    expect(await entries('onc-notes')).toEqual([['standing', []]]);
    expect(await entries('cardio-notes')).toEqual([['grant', [cardioGrant]]]);
  });

  it('is not cited in an A token of the sponsor’s job, and revoking it leaves that token active', async () => {
    const t = await tokenFor('onc-notes', ['note_text']);
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    const claims = claimsOf(t.body.access_token);
    expect(claims.grant_ids).toBeUndefined();
    expect(claims.sponsor).toBe(sci.id);
    // Not capped by the B grant's expiry either: the default 15 minutes.
    expect(claims.exp - claims.iat).toBe(900);
    const [row] = await app.db.sql`SELECT grant_ids FROM decision_log WHERE id = ${claims.decision_id}`;
    expect(row!.grant_ids).toEqual([]);
    expect((await introspect(t.body.access_token)).body.active).toBe(true);

    const revoked = await app.call('POST', `/v1/grants/${cardioGrant}/revoke`, { token: apa.token, body: { reason: 'Cardiology validation finished; access no longer needed.' } });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoked', state: 'revoked' });

    // The revocation took effect where the grant applied...
    const b = await decide(sci.id, 'cardio-notes', ['note_text']);
    expect(b.body.effect).toBe('deny');
    // ...and nowhere else: the A token is still active, and A's decisions still allow.
    const live = await introspect(t.body.access_token);
    expect(live.body.active, JSON.stringify(live.body)).toBe(true);
    expect(live.body.sub).toBe(claims.sub);
    expect((await decide(sci.id, 'onc-notes', ['note_text'])).body.effect).toBe('allow');
  });
});
