/**
 * /openapi.json tells the truth about conditional requests and answer
 * shapes: the routes that answer with an ETag document the header, the
 * edits that take If-Match document it as a required header parameter with
 * the refusals they really give (409 stale; 409 or 428 missing), the held
 * edit documents its Location, and the exports name the media types they
 * are sent in. The policy answers parse with the schemas that document
 * them, with no field the schema does not name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { PolicyDiffBody, PushedVersion, SimulationBody, ValidationBody, VersionBody, VersionPage } from '../../src/http/routes/policySchemas.ts';
import { adminOf, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let reviewer: Person;
let doc: { paths: Record<string, Record<string, { parameters: { name: string; in: string; required: boolean }[]; responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema?: unknown }> }> }>> };

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_IDLE_TIMEOUT_SECONDS: '3600', CUSTOS_SESSION_TTL_SECONDS: '3600' });
  admin = await adminOf(app);
  reviewer = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  doc = (await app.call('GET', '/openapi.json')).body;
});
afterAll(async () => app?.close());

const op = (path: string, method: string) => doc.paths[path]![method]!;
const documentsHeader = (path: string, method: string, status: number, header: string) => Object.hasOwn(op(path, method).responses[status]?.headers ?? {}, header);
const ifMatchParam = (path: string, method: string) => op(path, method).parameters.find((p) => p.in === 'header' && p.name === 'If-Match');

/** The body parses with its schema, and names no field the schema does not. */
function documented(schema: z.ZodObject, body: Record<string, unknown>) {
  const r = schema.safeParse(body);
  expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
  expect(Object.keys(body).filter((k) => !(k in schema.shape))).toEqual([]);
}

describe('ETag and If-Match', () => {
  it('every answer that carries an ETag documents it, and each edit documents If-Match and its real refusals', async () => {
    const live = await app.call('GET', '/v1/policy', { token: admin.token });
    expect(live.headers.get('etag')).toMatch(/^"1-/);
    expect(documentsHeader('/v1/policy', 'get', 200, 'ETag')).toBe(true);
    documented(VersionBody, live.body);

    const one = await app.call('GET', '/v1/policy/versions/1', { token: admin.token });
    expect(one.headers.get('etag')).toBe(live.headers.get('etag'));
    expect(documentsHeader('/v1/policy/versions/{n}', 'get', 200, 'ETag')).toBe(true);
    documented(VersionBody, one.body);

    // PUT: If-Match is required; missing and stale are 409, as documented.
    expect(ifMatchParam('/v1/policy', 'put')).toMatchObject({ required: true });
    const documents = { ...live.body.documents, 'default.yaml': `# edited\n${live.body.documents['default.yaml']}` };
    const missing = await app.call('PUT', '/v1/policy', { token: admin.token, body: { documents } });
    expect(missing.status).toBe(409);
    expect(Object.keys(op('/v1/policy', 'put').responses)).toContain('409');
    expect(Object.keys(op('/v1/policy', 'put').responses)).not.toContain('428');
    const put = await app.call('PUT', '/v1/policy', { token: admin.token, body: { documents }, headers: { 'if-match': live.headers.get('etag')! } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.headers.get('etag')).toBe(put.body.etag);
    expect(documentsHeader('/v1/policy', 'put', 200, 'ETag')).toBe(true);
    documented(PushedVersion, put.body);

    // Rollback: missing is 428, stale 409; both documented.
    expect(ifMatchParam('/v1/policy/rollback', 'post')).toMatchObject({ required: true });
    const noTag = await app.call('POST', '/v1/policy/rollback', { token: admin.token, body: { version: 1 } });
    expect(noTag.status).toBe(428);
    const stale = await app.call('POST', '/v1/policy/rollback', { token: admin.token, body: { version: 1 }, headers: { 'if-match': live.headers.get('etag')! } });
    expect(stale.status).toBe(409);
    expect(Object.keys(op('/v1/policy/rollback', 'post').responses)).toEqual(expect.arrayContaining(['409', '428']));
    const back = await app.call('POST', '/v1/policy/rollback', { token: admin.token, body: { version: 1 }, headers: { 'if-match': put.headers.get('etag')! } });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.headers.get('etag')).toBe(back.body.etag);
    expect(documentsHeader('/v1/policy/rollback', 'post', 200, 'ETag')).toBe(true);
    documented(PushedVersion, back.body);
  });

  it('a held edit answers 202 with the Location of its pending change, as documented', async () => {
    const live = await app.call('GET', '/v1/policy', { token: admin.token });
    const { 'break-glass.yaml': _dropped, ...fewer } = live.body.tests as Record<string, string>;
    const held = await app.call('PUT', '/v1/policy', { token: admin.token, body: { documents: live.body.documents, tests: fewer }, headers: { 'if-match': live.headers.get('etag')! } });
    expect(held.status, JSON.stringify(held.body)).toBe(202);
    expect(held.headers.get('location')).toBe(`/v1/changes/${held.body.id}`);
    expect(held.headers.get('etag')).toBeNull();
    expect(documentsHeader('/v1/policy', 'put', 202, 'Location')).toBe(true);
    expect(documentsHeader('/v1/policy', 'put', 202, 'ETag')).toBe(false);
  });

  it('no operation documents an ETag or If-Match it does not have: only the policy reads and edits do', () => {
    const withEtag: string[] = [];
    const withIfMatch: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, o] of Object.entries(methods)) {
        if (Object.values(o.responses).some((r) => r.headers && 'ETag' in r.headers)) withEtag.push(`${method} ${path}`);
        if (o.parameters.some((p) => p.name === 'If-Match')) withIfMatch.push(`${method} ${path}`);
      }
    }
    expect(withEtag.sort()).toEqual(['get /v1/policy', 'get /v1/policy/versions/{n}', 'post /v1/policy/rollback', 'put /v1/policy']);
    expect(withIfMatch.sort()).toEqual(['post /v1/policy/rollback', 'put /v1/policy']);
  });
});

describe('answer shapes', () => {
  it('validate, versions, diff and simulate answer what their schemas document', async () => {
    const live = await app.call('GET', '/v1/policy', { token: admin.token });
    const bad = await app.call('POST', '/v1/policy/validate', { token: admin.token, body: { documents: { 'default.yaml': 'rules: [{ id: x }]' } } });
    expect(bad.status).toBe(200);
    documented(ValidationBody, bad.body);
    const failing = await app.call('POST', '/v1/policy/validate', {
      token: admin.token,
      body: { documents: { 'default.yaml': 'rules:\n  - id: none\n    effect: deny\n    roles: [data-scientist]\n    actions: [dataset:read]\n' } },
    });
    expect(failing.body.tests.failures.length).toBeGreaterThan(0);
    documented(ValidationBody, failing.body);

    const page = await app.call('GET', '/v1/policy/versions?limit=2', { token: admin.token });
    documented(VersionPage, page.body);
    expect(page.body.items.length).toBe(2);

    const diff = await app.call('GET', `/v1/policy/diff?from=1`, { token: admin.token });
    documented(PolicyDiffBody, diff.body);

    const sim = await app.call('POST', '/v1/policy/simulate', { token: reviewer.token, body: { documents: live.body.documents } });
    expect(sim.status, JSON.stringify(sim.body)).toBe(200);
    documented(SimulationBody, sim.body);
  });

  it('the exports and the disclosure report document each format they are sent in', async () => {
    for (const path of ['/v1/decision-logs/export', '/v1/audit-events/export']) {
      expect(Object.keys(op(path, 'get').responses['200']!.content!).sort()).toEqual(['application/x-ndjson', 'text/csv']);
      expect(documentsHeader(path, 'get', 200, 'Content-Disposition')).toBe(true);
    }
    const disclosures = op('/v1/reports/disclosures', 'get').responses['200']!.content!;
    expect(Object.keys(disclosures).sort()).toEqual(['application/json', 'text/csv']);
    expect(disclosures['application/json']!.schema).toMatchObject({ type: 'object', required: expect.arrayContaining(['items', 'truncated']) });

    for (const format of ['ndjson', 'csv']) {
      const r = await app.call('GET', `/v1/audit-events/export?format=${format}`, { token: reviewer.token });
      expect(r.status).toBe(200);
      expect(op('/v1/audit-events/export', 'get').responses['200']!.content).toHaveProperty(r.headers.get('content-type')!.split(';')[0]!);
    }
  });
});
