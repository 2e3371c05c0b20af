/**
 * What a person reads before and around an access request.
 *
 * GET /v1/requestable-roles: the roles the policy in force lets anyone ask
 * for, with their limits (the console's request form offers them).
 *
 * Access requests carry the names of the people they mention (`names`: id →
 * name): the requester, each approver, whoever decided. An approver holds
 * no `catalog:read`, so without them the inbox would show ids only. Only
 * who may see a request sees them (someone else gets the 404 of a request
 * that does not exist, names and all).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let ria: Person;
let apa: Person;
let apb: Person;
let out: Person;

const JUSTIFY = 'Retraining the sepsis model on the Q3 oncology notes (ticket ML-4411).';

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_IDLE_TIMEOUT_SECONDS: '86400', CUSTOS_SESSION_TTL_SECONDS: '86400', CUSTOS_SESSION_MAX_SECONDS: '86400' });
  await app.wired.catalog.createProject({ id: 'onc', name: 'Oncology' });
  ria = await personDirect(app, 'ria');
  apa = await personDirect(app, 'apa', [{ role: 'approver' }]);
  apb = await personDirect(app, 'apb', [{ role: 'approver' }]);
  out = await personDirect(app, 'out');
  for (const p of [ria, apa, apb, out]) await loginAs(app, p);
});
afterAll(async () => app?.close());

const file = () => app.call('POST', '/v1/access-requests', { token: ria.token, body: { role: 'data-scientist', project: 'onc', duration_seconds: 3600, justification: JUSTIFY } });

describe('names on access requests', () => {
  it('the to-approve list names the requester; each approval adds its approver; a decision names who decided', async () => {
    const filed = await file();
    expect(filed.status, JSON.stringify(filed.body)).toBe(201);
    const id: string = filed.body.id;

    const inbox = await app.call('GET', '/v1/access-requests?view=to-approve', { token: apa.token });
    expect(inbox.status).toBe(200);
    const listed = inbox.body.items.find((r: any) => r.id === id);
    expect(listed.names).toEqual({ [ria.id]: 'ria' });

    const first = await app.call('POST', `/v1/access-requests/${id}/approve`, { token: apa.token, body: {} });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.names).toEqual({ [ria.id]: 'ria', [apa.id]: 'apa' });

    const denied = await app.call('POST', `/v1/access-requests/${id}/deny`, { token: apb.token, body: { reason: 'Not this quarter; the cohort is not final yet.' } });
    expect(denied.status, JSON.stringify(denied.body)).toBe(200);
    expect(denied.body.names).toEqual({ [ria.id]: 'ria', [apa.id]: 'apa', [apb.id]: 'apb' });
    // The history's `by` ids are all named.
    for (const h of denied.body.history) if (h.by) expect(denied.body.names[h.by]).toBeDefined();

    const mine = await app.call('GET', `/v1/access-requests/${id}`, { token: ria.token });
    expect(mine.body.names).toEqual(denied.body.names);
    const list = await app.call('GET', '/v1/access-requests?view=mine', { token: ria.token });
    expect(list.body.items.find((r: any) => r.id === id).names).toEqual(denied.body.names);
  });

  it('names the one who revoked the grant', async () => {
    const id: string = (await file()).body.id;
    for (const p of [apa, apb]) expect((await app.call('POST', `/v1/access-requests/${id}/approve`, { token: p.token, body: {} })).status).toBe(200);
    const revoked = await app.call('POST', `/v1/access-requests/${id}/revoke`, { token: ria.token, body: { reason: 'Finished early; no longer needed.' } });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body.history.find((h: any) => h.event === 'revoked').by).toBe(ria.id);
    expect(revoked.body.names[ria.id]).toBe('ria');
  });

  it('someone who may not see the request gets no names: the 404 of a request that does not exist', async () => {
    const id: string = (await file()).body.id;
    const r = await app.call('GET', `/v1/access-requests/${id}`, { token: out.token });
    expect(r.status).toBe(404);
    expect(JSON.stringify(r.body)).not.toContain('ria');
    const list = await app.call('GET', '/v1/access-requests?view=to-approve', { token: out.token });
    expect(list.body.items).toEqual([]);
  });
});

describe('GET /v1/requestable-roles', () => {
  it('lists the policy’s requestable roles with their limits, to any person', async () => {
    const r = await app.call('GET', '/v1/requestable-roles', { token: out.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // policies/rules/default.yaml, access.requests.
    expect(r.body.items).toEqual([
      { role: 'ai-researcher', max_duration_seconds: 3 * 86_400, approvals: 1, approver_roles: ['approver'] },
      { role: 'data-scientist', max_duration_seconds: 8 * 3_600, approvals: 2, approver_roles: ['approver'] },
    ]);
  });

  it('needs a session', async () => {
    const r = await app.call('GET', '/v1/requestable-roles');
    expect(r.status).toBe(401);
  });
});
