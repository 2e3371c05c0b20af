/**
 * Who may read /metrics: a source address on CUSTOS_METRICS_ALLOW (the
 * address audit events record, so X-Forwarded-For counts only from a
 * trusted proxy), or a client whose credentials (HTTP Basic) belong to a
 * principal holding metrics:read. Each refusal is shown to come from its own
 * check: the same request passes once that one check is satisfied.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, basicAuth, loginAs, oncologyWorld, startTestApp, type Person, type TestApp } from '../support/app.ts';

/** A scraper service with the shipped metrics-reader role, and its Basic credentials. */
async function scraper(app: TestApp, admin: Person): Promise<{ id: string; clientId: string; basic: string }> {
  const p = await app.wired.catalog.createPrincipal({ kind: 'service', name: 'prometheus', sponsor_id: admin.id, project_id: 'onc' });
  await app.wired.catalog.assignRole({ principal_id: p.id, role_id: 'metrics-reader', project_id: null }, null);
  await loginAs(app, admin);
  const c = await app.call('POST', `/v1/principals/${p.id}/credentials`, { token: admin.token });
  expect(c.status).toBe(201);
  return { id: p.id, clientId: c.body.client_id, basic: basicAuth(c.body.client_id, c.body.client_secret) };
}

const get = (app: TestApp, headers: Record<string, string> = {}) => app.call('GET', '/metrics', { headers });

describe('an allowed source address (loopback by default)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.close());

  it('is served without credentials', async () => {
    const r = await get(app);
    expect(r.status).toBe(200);
    expect(r.body).toContain('# TYPE custos_decisions_total counter');
  });
});

describe('a source address not on the list', () => {
  let app: TestApp;
  let admin: Person;
  let reader: { id: string; clientId: string; basic: string };
  let pep: { id: string; basic: string };
  beforeAll(async () => {
    // Loopback (where this test connects from) is not on the list.
    app = await startTestApp({ CUSTOS_METRICS_ALLOW: '10.1.2.3' });
    admin = await adminOf(app);
    pep = (await oncologyWorld(app, admin, [{ id: 'onc-notes', audience: 'https://notes.example.org' }])).pep;
    reader = await scraper(app, admin);
  });
  afterAll(async () => app?.close());

  it('without credentials: 401 (the allow list refuses; loopback on the list is served, above)', async () => {
    const r = await get(app);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('unauthenticated');
  });

  it('claiming an allowed address in X-Forwarded-For, with no trusted proxy: 401', async () => {
    const r = await get(app, { 'x-forwarded-for': '10.1.2.3' });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('unauthenticated');
  });

  it('with a wrong client secret: 401 (the secret check refuses; the right one is served)', async () => {
    const wrong = await get(app, { authorization: basicAuth(reader.clientId, 'not-the-secret') });
    expect(wrong.status).toBe(401);
    expect((await get(app, { authorization: reader.basic })).status).toBe(200);
  });

  it('with a session bearer token instead of client credentials: 401, even for an administrator', async () => {
    const token = await loginAs(app, admin);
    expect((await get(app, { authorization: `Bearer ${token}` })).status).toBe(401);
  });

  it('with valid credentials lacking metrics:read: 403 (the permission check refuses; granted the role, the same client is served)', async () => {
    const r = await get(app, { authorization: pep.basic });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('forbidden');
    await app.wired.catalog.assignRole({ principal_id: pep.id, role_id: 'metrics-reader', project_id: null }, null);
    expect((await get(app, { authorization: pep.basic })).status).toBe(200);
  });

  it('with credentials of a metrics-reader: the metrics', async () => {
    const r = await get(app, { authorization: reader.basic });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.body).toContain('custos_build_info{');
  });
});

describe('behind a trusted proxy', () => {
  let app: TestApp;
  beforeAll(async () => {
    // The proxy is this test (loopback): the client's address is the one it forwards.
    app = await startTestApp({ CUSTOS_METRICS_ALLOW: '10.1.2.0/24', CUSTOS_TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(async () => app?.close());

  it('serves the forwarded address on the list (the same header without a trusted proxy was refused, above)', async () => {
    expect((await get(app, { 'x-forwarded-for': '10.1.2.3' })).status).toBe(200);
  });

  it('refuses a forwarded address not on the list, and the proxy itself', async () => {
    expect((await get(app, { 'x-forwarded-for': '10.9.9.9' })).status).toBe(401);
    expect((await get(app)).status).toBe(401);
  });
});
