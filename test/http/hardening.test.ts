/**
 * The HTTP edge: prototype pollution, mass assignment, body limits, malformed
 * input, request ids, problem documents that leak nothing, injection
 * attempts, security headers, and an OpenAPI document that matches the routes.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DOCS_CSP } from '../../src/http/routes/docs.ts';
import { allRoutes } from '../../src/http/server.ts';
import { adminOf, loginAs, personWithRoles, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  const p = await app.call('POST', '/v1/projects', { token: admin.token, body: { id: 'base', name: 'Base' } });
  if (p.status !== 201) throw new Error(`project: ${p.status}`);
});
afterAll(async () => app?.close());
beforeEach(async () => {
  await loginAs(app, admin);
});

/** Raw fetch, to see the exact text of an answer. */
async function raw(method: string, path: string, o: { token?: string; body?: string | Buffer; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(app.url + path, { method, headers, body: o.body });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

const LEAK = /at .*\.ts:|SELECT|INSERT|postgres/i;

function expectCleanProblem(r: { status: number; text: string; headers: Headers }, status: number, code?: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.text).not.toMatch(LEAK);
  expect(r.text).not.toMatch(/node_modules|\/work\/|stack/i);
  const body = JSON.parse(r.text);
  expect(body.status).toBe(status);
  if (code) expect(body.code).toBe(code);
  expect(body.request_id).toBe(r.headers.get('x-request-id'));
  return body;
}

const issuesText = (body: any) => JSON.stringify(body.errors ?? []);

describe('prototype pollution', () => {
  it('refuses a __proto__ key with 400 and leaves Object.prototype alone', async () => {
    const r = await raw('POST', '/v1/projects', { token: admin.token, body: '{"__proto__":{"admin":true},"id":"p1","name":"x"}' });
    expect(({} as any).admin).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('admin');
    expect((await app.call('GET', '/v1/projects/p1', { token: admin.token })).status).toBe(404);
    expectCleanProblem(r, 400, 'invalid_request');
  });

  it('refuses a __proto__ key spelled with a unicode escape', async () => {
    const r = await raw('POST', '/v1/projects', { token: admin.token, body: '{"\\u005f_proto__":{"admin2":true},"id":"p1b","name":"x"}' });
    expect(({} as any).admin2).toBeUndefined();
    expect((await app.call('GET', '/v1/projects/p1b', { token: admin.token })).status).toBe(404);
    expectCleanProblem(r, 400, 'invalid_request');
  });

  it.each([
    ['nested constructor.prototype', '{"id":"p2","name":"x","description":{"constructor":{"prototype":{"polluted":true}}}}'],
    ['top-level constructor', '{"id":"p3","name":"x","constructor":{"prototype":{"polluted":true}}}'],
    ['prototype key', '{"id":"p4","name":"x","prototype":{"polluted":true}}'],
    ['__proto__ inside an array', '{"id":"p5","name":"x","tags":[{"__proto__":{"polluted":true}}]}'],
  ])('refuses %s with 400', async (_what, body) => {
    const r = await raw('POST', '/v1/projects', { token: admin.token, body });
    expect(({} as any).polluted).toBeUndefined();
    const id = JSON.parse(body).id as string;
    expect((await app.call('GET', `/v1/projects/${id}`, { token: admin.token })).status).toBe(404);
    expectCleanProblem(r, 400, 'invalid_request');
  });

  it('refuses forbidden keys in principal attributes and in a PATCH body', async () => {
    const a = await raw('POST', '/v1/principals', { token: admin.token, body: '{"kind":"user","name":"polly","attributes":{"__proto__":{"isAdmin":true}}}' });
    const d = await raw('PATCH', '/v1/projects/base', { token: admin.token, body: '{"name":"y","constructor":{}}' });
    expect(({} as any).isAdmin).toBeUndefined();
    expect((await app.call('GET', '/v1/projects/base', { token: admin.token })).body.name).toBe('Base');
    const [row] = await app.db.sql`SELECT count(*)::int AS n FROM principals WHERE name = 'polly'`;
    expect(row!.n).toBe(0);
    expectCleanProblem(a, 400, 'invalid_request');
    expectCleanProblem(d, 400, 'invalid_request');
  });
});

describe('mass assignment', () => {
  let victim: Person;
  beforeAll(async () => {
    await loginAs(app, admin);
    victim = await personWithRoles(app, admin, 'victim', ['ai-researcher']);
  });

  it.each([
    [{ role: 'system-administrator' }, 'role'],
    [{ kind: 'service' }, 'kind'],
    [{ roles: ['system-administrator'] }, 'roles'],
    [{ name: 'admin' }, 'name'],
    [{ id: '00000000-0000-7000-8000-000000000001' }, 'id'],
    [{ created_at: '2000-01-01T00:00:00Z' }, 'created_at'],
    [{ display_name: 'looks fine', is_admin: true }, 'is_admin'],
  ])('PATCH /v1/principals/:id with %j is 400 naming %s, and changes nothing', async (body, field) => {
    const before = await app.call('GET', `/v1/principals/${victim.id}`, { token: admin.token });
    const r = await app.call('PATCH', `/v1/principals/${victim.id}`, { token: admin.token, body });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('invalid_request');
    expect(issuesText(r.body)).toContain('unknown field');
    expect(issuesText(r.body)).toContain(field);
    const after = await app.call('GET', `/v1/principals/${victim.id}`, { token: admin.token });
    expect(after.body).toEqual(before.body);
    expect(after.body.kind).toBe('user');
    const assignments = await app.call('GET', `/v1/role-assignments?principal_id=${victim.id}`, { token: admin.token });
    expect(assignments.body.items.map((a: any) => a.role_id)).toEqual(['ai-researcher']);
  });

  it('the victim gains no permission', async () => {
    await loginAs(app, victim);
    const me = await app.call('GET', '/v1/me', { token: victim.token });
    expect(me.body.roles).toEqual(['ai-researcher']);
    expect(me.body.permissions).toEqual([]);
    expect((await app.call('GET', '/v1/projects', { token: victim.token })).status).toBe(403);
  });

  it.each([
    ['/v1/projects', { id: 'mass-1', name: 'x', created_at: '2000-01-01T00:00:00Z' }, 'created_at'],
    ['/v1/vendors', { id: 'mass-2', name: 'x', baas: [] }, 'baas'],
    ['/v1/roles', { id: 'mass-3', permissions: ['catalog:write'] }, 'permissions'],
    ['/v1/principals', { kind: 'user', name: 'mass-4', status: 'active' }, 'status'],
    ['/v1/role-assignments', { principal_id: '00000000-0000-7000-8000-000000000001', role_id: 'approver', created_by: null }, 'created_by'],
  ])('POST %s with an extra field is 400 naming it', async (path, body, field) => {
    const r = await app.call('POST', path, { token: admin.token, body });
    expect(r.status).toBe(400);
    expect(issuesText(r.body)).toContain(field);
  });
});

describe('request bodies', () => {
  it('answers a body over 100kb with 413 payload_too_large, quickly', async () => {
    const big = JSON.stringify({ id: 'big', name: 'x', description: 'a'.repeat(200 * 1024) });
    const t0 = performance.now();
    const r = await raw('POST', '/v1/projects', { token: admin.token, body: big });
    const ms = performance.now() - t0;
    expectCleanProblem(r, 413, 'payload_too_large');
    expect(ms).toBeLessThan(2000);
    expect(r.headers.get('x-request-id')).toBeTruthy();
    expect((await app.call('GET', '/v1/projects/big', { token: admin.token })).status).toBe(404);
  });

  it('answers 413 to a chunked body without content-length that grows past the limit', async () => {
    const t0 = performance.now();
    const { status, text, headers } = await new Promise<{ status: number; text: string; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = httpRequest(
        app.url + '/v1/projects',
        { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}`, 'transfer-encoding': 'chunked' } },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: data, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.write('{"id":"chunky","name":"x","description":"');
      const chunk = 'b'.repeat(16 * 1024);
      // 160 chunks of 16 KiB (2.5 MiB); the server should stop long before.
      let n = 0;
      const pump = () => {
        while (n < 160) {
          n++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end('"}');
      };
      pump();
    });
    expect(status).toBe(413);
    expect(JSON.parse(text).code).toBe('payload_too_large');
    expect(String(headers['content-type'])).toMatch(/^application\/problem\+json/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('reads a body that arrives after the headers, in pieces', async () => {
    const body = JSON.stringify({ id: 'late', name: 'Late body' });
    const answer = (payload: string, length: number) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(
          app.url + '/v1/projects',
          { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(length), authorization: `Bearer ${admin.token}` } },
          (res) => {
            let data = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (data += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text: data }));
          },
        );
        req.on('error', reject);
        req.flushHeaders();
        setTimeout(() => req.write(payload.slice(0, 7)), 30);
        setTimeout(() => req.end(payload.slice(7)), 60);
      });
    const ok = await answer(body, Buffer.byteLength(body));
    expect(ok.status, ok.text).toBe(201);
    expect((await app.call('GET', '/v1/projects/late', { token: admin.token })).status).toBe(200);
    const polluted = '{"__proto__":{"admin":true},"id":"late2","name":"x"}';
    const refused = await answer(polluted, Buffer.byteLength(polluted));
    expect(refused.status).toBe(400);
    expect(({} as any).admin).toBeUndefined();
  });

  it('answers invalid JSON with 400', async () => {
    for (const body of ['{"id":"x",', '{id: "x"}', "{'id':'x'}", '"just a string"', '42', 'null', '{"id":"x"}garbage']) {
      const r = await raw('POST', '/v1/projects', { token: admin.token, body });
      expectCleanProblem(r, 400, 'invalid_request');
    }
  });

  it('answers an unsupported body charset with 415', async () => {
    const r = await raw('POST', '/v1/projects', { token: admin.token, body: '{"id":"cs","name":"x"}', headers: { 'content-type': 'application/json; charset=koi8-r' } });
    expectCleanProblem(r, 415, 'unsupported_media_type');
  });

  it('answers a compressed body with 415 instead of inflating it', async () => {
    const { gzipSync } = await import('node:zlib');
    const r = await raw('POST', '/v1/projects', { token: admin.token, body: gzipSync('{"id":"gz","name":"x"}'), headers: { 'content-encoding': 'gzip' } });
    expectCleanProblem(r, 415, 'unsupported_media_type');
    expect((await app.call('GET', '/v1/projects/gz', { token: admin.token })).status).toBe(404);
  });

  it('reads application/*+json bodies, with or without a utf-8 charset', async () => {
    for (const [id, type] of [['plusjson', 'application/merge-patch+json'], ['utf8json', 'application/json; charset="UTF-8"']] as const) {
      const r = await raw('POST', '/v1/projects', { token: admin.token, body: JSON.stringify({ id, name: 'x' }), headers: { 'content-type': type } });
      expect(r.status, r.text).toBe(201);
    }
  });

  it('answers a body shorter than its Content-Length with 400, without waiting for the deadline', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(app.url);
      const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: '/v1/projects', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json', 'content-length': '100' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('{"id":"short"}');
      // Half-close: the server sees the end of a body 86 bytes short of what was announced.
      req.on('socket', (s) => s.on('connect', () => s.end()));
      setTimeout(() => req.destroy(), 3000);
    }).catch(() => 0);
    expect([0, 400]).toContain(status);
    expect((await app.call('GET', '/v1/projects/short', { token: admin.token })).status).toBe(404);
  });

  it('does not take a non-JSON body as fields', async () => {
    const r = await raw('POST', '/v1/projects', { token: admin.token, body: 'id=form&name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectCleanProblem(r, 400, 'invalid_request');
    expect((await app.call('GET', '/v1/projects/form', { token: admin.token })).status).toBe(404);
  });
});

describe('query strings', () => {
  it.each([['limit=1&limit=2'], ['cursor=a&cursor=b'], ['limit[x]=1'], ['limit=5&extra=1']])('refuses ?%s with 400', async (q) => {
    const r = await raw('GET', `/v1/projects?${q}`, { token: admin.token });
    expectCleanProblem(r, 400, 'invalid_request');
  });

  it('accepts a single limit', async () => {
    const r = await app.call('GET', '/v1/projects?limit=1', { token: admin.token });
    expect(r.status).toBe(200);
    expect(r.body.items).toHaveLength(1);
  });
});

describe('request ids', () => {
  it('every answer carries an x-request-id: 200, 400, 401, 404, 413', async () => {
    const answers = [
      await raw('GET', '/v1/projects', { token: admin.token }),
      await raw('GET', '/healthz'),
      await raw('GET', '/v1/projects?limit=0', { token: admin.token }),
      await raw('GET', '/v1/projects'),
      await raw('GET', '/v1/projects/not-there', { token: admin.token }),
      await raw('GET', '/no/such/route'),
      await raw('POST', '/v1/projects', { token: admin.token, body: JSON.stringify({ pad: 'x'.repeat(150 * 1024) }) }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400, 401, 404, 404, 413]);
    const ids = answers.map((a) => a.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('echoes a well-formed incoming X-Request-Id, in the header and the problem', async () => {
    const id = 'gw-2026.06.01:abc_DEF-123';
    const ok = await raw('GET', '/v1/projects', { token: admin.token, headers: { 'x-request-id': id } });
    expect(ok.headers.get('x-request-id')).toBe(id);
    const nf = await raw('GET', '/v1/projects/not-there', { token: admin.token, headers: { 'x-request-id': id } });
    expect(nf.headers.get('x-request-id')).toBe(id);
    expect(JSON.parse(nf.text).request_id).toBe(id);
  });

  it.each([['short'], ['has spaces in it'], ['x'.repeat(200)], ['inject"quote<tag>']])('replaces a malformed incoming id %j', async (bad) => {
    const r = await raw('GET', '/healthz', { headers: { 'x-request-id': bad } });
    const got = r.headers.get('x-request-id');
    expect(got).not.toBe(bad);
    expect(got).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('problem documents and injection', () => {
  it('a 409 names no constraint, table or SQL', async () => {
    const r = await raw('POST', '/v1/projects', { token: admin.token, body: JSON.stringify({ id: 'base', name: 'again' }) });
    expectCleanProblem(r, 409, 'conflict');
    expect(r.text).not.toMatch(/pkey|duplicate key|projects_/i);
  });

  it('a foreign-key failure is a clean 400', async () => {
    const r = await raw('POST', '/v1/role-assignments', {
      token: admin.token,
      body: JSON.stringify({ principal_id: '00000000-0000-7000-8000-000000000000', role_id: 'approver' }),
    });
    expectCleanProblem(r, 400, 'invalid_request');
    expect(r.text).not.toMatch(/violates|foreign key constraint/i);
  });

  it("GET /v1/projects/'; DROP TABLE projects-- is a clean 400 and the table survives", async () => {
    const r = await raw('GET', "/v1/projects/'%3B DROP TABLE projects--", { token: admin.token });
    expectCleanProblem(r, 400, 'invalid_request');
    const [row] = await app.db.sql`SELECT count(*)::int AS n FROM projects WHERE id = 'base'`;
    expect(row!.n).toBe(1);
    expect((await app.call('GET', '/v1/projects/base', { token: admin.token })).status).toBe(200);
  });

  it.each([["/v1/datasets/a'b\"c"], ["/v1/datasets/x'%20OR%20'1'%3D'1"], ['/v1/datasets/%27%29%3B--'], ['/v1/roles/a%27b'], ['/v1/principals/%27%20OR%201%3D1--']])(
    'GET %s is a clean 400',
    async (path) => {
      const r = await raw('GET', path, { token: admin.token });
      expectCleanProblem(r, 400, 'invalid_request');
    },
  );

  it('stores SQL metacharacters in values literally', async () => {
    const evil = `Robert'); DROP TABLE datasets;-- "quoted" \\ $1 %s`;
    const c = await app.call('POST', '/v1/datasets', {
      token: admin.token,
      body: { id: 'little.bobby_tables', project_id: 'base', owner_id: admin.id, description: evil, purposes: ['research'], columns: [{ name: 'x' }] },
    });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    expect(c.body.description).toBe(evil);
    const p = await app.call('PATCH', '/v1/projects/base', { token: admin.token, body: { description: evil } });
    expect(p.body.description).toBe(evil);
    const [row] = await app.db.sql`SELECT description FROM datasets WHERE id = 'little.bobby_tables'`;
    expect(row!.description).toBe(evil);
    const bad = await raw('POST', '/v1/datasets', {
      token: admin.token,
      body: JSON.stringify({ id: "x'); DROP TABLE datasets;--", project_id: 'base', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'x' }] }),
    });
    expectCleanProblem(bad, 400, 'invalid_request');
    const [n] = await app.db.sql`SELECT count(*)::int AS n FROM datasets`;
    expect(n!.n).toBe(1);
  });

  it('401, 403, 404 and 405-ish answers leak nothing', async () => {
    expectCleanProblem(await raw('GET', '/v1/datasets'), 401, 'unauthenticated');
    expectCleanProblem(await raw('GET', '/v1/datasets', { token: 'cst_' + 'Z'.repeat(43) }), 401, 'unauthenticated');
    expectCleanProblem(await raw('GET', '/v1/datasets/nothing-here', { token: admin.token }), 404, 'not_found');
    expectCleanProblem(await raw('PUT', '/v1/projects/base', { token: admin.token, body: '{}' }), 404, 'not_found');
  });
});

describe('security headers', () => {
  it.each([
    ['a JSON answer', '/v1/projects', true],
    ['a problem', '/v1/projects/nope', true],
    ['an unauthenticated problem', '/v1/projects', false],
    ['the docs page', '/docs', false],
    ['the OpenAPI document', '/openapi.json', false],
  ])('on %s', async (_what, path, withToken) => {
    const r = await raw('GET', path, withToken ? { token: admin.token } : {});
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(r.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('x-powered-by')).toBeNull();
    expect(r.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('on a 413', async () => {
    const r = await raw('POST', '/v1/projects', { token: admin.token, body: JSON.stringify({ pad: 'x'.repeat(150 * 1024) }) });
    expect(r.status).toBe(413);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('cache-control')).toBe('no-store');
  });
});

describe('OpenAPI and docs', () => {
  it('/openapi.json is OpenAPI 3.1 and lists every route the app serves, and nothing else', async () => {
    const r = await app.call('GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = r.body;
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBe('Custos');
    expect(typeof doc.info.version).toBe('string');
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'http', scheme: 'bearer' });

    const routes = allRoutes(app.wired.app);
    expect(routes.length).toBeGreaterThan(20);
    const expected = new Set(routes.map((rt) => `${rt.method} ${rt.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`));
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      expect(p).not.toContain(':');
      for (const m of Object.keys(ops)) documented.add(`${m} ${p}`);
    }
    expect([...documented].sort()).toEqual([...expected].sort());
    // Spot-check the collections the catalog serves.
    for (const c of ['projects', 'principals', 'roles', 'datasets', 'vendors']) {
      expect(doc.paths[`/v1/${c}`]).toHaveProperty('get');
      expect(doc.paths[`/v1/${c}`]).toHaveProperty('post');
      expect(doc.paths[`/v1/${c}/{id}`]).toHaveProperty('get');
      expect(doc.paths[`/v1/${c}/{id}`]).toHaveProperty('patch');
      const idParam = doc.paths[`/v1/${c}/{id}`].get.parameters.find((x: any) => x.name === 'id');
      expect(idParam).toMatchObject({ in: 'path', required: true });
    }
    // Protected operations say so; public ones do not.
    expect(doc.paths['/v1/projects'].post.security).toEqual([{ session: [] }]);
    expect(doc.paths['/v1/projects'].post['x-custos-permission']).toBe('catalog:write');
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('documents strict request bodies (additionalProperties: false) and no typed-in classification', async () => {
    const doc = (await app.call('GET', '/openapi.json')).body;
    const bodySchema = (p: string, m: string) => doc.paths[p][m].requestBody.content['application/json'].schema;
    for (const [p, m] of [
      ['/v1/projects', 'post'],
      ['/v1/projects/{id}', 'patch'],
      ['/v1/vendors', 'post'],
      ['/v1/vendors/{id}/baas', 'post'],
      ['/v1/roles', 'post'],
      ['/v1/roles/{id}', 'patch'],
      ['/v1/role-assignments', 'post'],
      ['/v1/datasets', 'post'],
      ['/v1/datasets/{id}', 'patch'],
      ['/v1/principals/{id}', 'patch'],
    ] as const) {
      const s = bodySchema(p, m);
      expect(s.type, `${m} ${p}`).toBe('object');
      expect(s.additionalProperties, `${m} ${p}`).toBe(false);
      expect(doc.paths[p][m].requestBody.required).toBe(true);
    }
    expect(bodySchema('/v1/projects', 'post').required).toEqual(expect.arrayContaining(['id', 'name']));
    // A discriminated union: each variant is strict.
    const principal = bodySchema('/v1/principals', 'post');
    const variants = principal.oneOf ?? principal.anyOf;
    expect(variants).toHaveLength(2);
    for (const v of variants) expect(v.additionalProperties).toBe(false);
    expect(variants.find((v: any) => v.properties.kind.const === 'service').required).toEqual(expect.arrayContaining(['sponsor_id', 'project_id']));
    // Classification is an output only.
    for (const s of [bodySchema('/v1/datasets', 'post'), bodySchema('/v1/datasets/{id}', 'patch')]) {
      expect(Object.keys(s.properties)).not.toContain('classification');
      expect(Object.keys(s.properties)).not.toContain('classification_basis');
    }
    const out = doc.paths['/v1/datasets/{id}'].get.responses['200'].content['application/json'].schema;
    expect(out.properties.classification.enum).toEqual(['deidentified', 'limited', 'phi']);
    // Problems are documented as RFC 9457 documents.
    expect(doc.paths['/v1/projects'].get.responses.default.content['application/problem+json'].schema.$ref).toBe('#/components/schemas/Problem');
    expect(doc.components.schemas.Problem.required).toEqual(expect.arrayContaining(['code', 'request_id']));
  });

  it('/docs is Swagger UI served from this origin, with no inline script or style', async () => {
    const r = await raw('GET', '/docs');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toMatch(/^<!doctype html>/i);
    expect(r.text).toContain('href="/openapi.json"');
    const scripts = [...r.text.matchAll(/<script([^>]*)>([^<]*)<\/script>/gi)];
    expect(scripts.map((m) => /src="([^"]+)"/.exec(m[1]!)?.[1])).toEqual(['/docs/swagger-ui-bundle.js', '/docs/swagger-initializer.js']);
    expect(scripts.map((m) => m[2])).toEqual(['', '']);
    expect(r.text).not.toMatch(/<style|style=|\son[a-z]+=/i);
    expect(r.text).not.toMatch(/https?:\/\//);
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toBe(DOCS_CSP);
    expect(csp).not.toContain('unsafe-');
    expect(csp).not.toMatch(/https:|\*/);
  });

  it('/docs serves its three assets and nothing else from node_modules', async () => {
    for (const [path, type, text] of [
      ['/docs/swagger-ui-bundle.js', /^(text|application)\/javascript/, 'SwaggerUIBundle'],
      ['/docs/swagger-ui.css', /^text\/css/, '.swagger-ui'],
      ['/docs/swagger-initializer.js', /^(text|application)\/javascript/, "url: '/openapi.json'"],
    ] as const) {
      const r = await raw('GET', path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toMatch(type);
      expect(r.text).toContain(text);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      // Public and static: kept, but revalidated; the baseline policy (not the page's) applies.
      expect(r.headers.get('cache-control')).toBe('no-cache');
      expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
      // (fetch adds `Cache-Control: no-cache` to a conditional request unless told otherwise.)
      const again = await raw('GET', path, { headers: { 'if-modified-since': r.headers.get('last-modified')!, 'cache-control': 'max-age=0' } });
      expect(again.status).toBe(304);
    }
    for (const path of ['/docs/index.html', '/docs/swagger-ui.js', '/docs/swagger-initializer.js.map', '/docs/..%2Fpackage.json', '/docs/%2E%2E%2F%2E%2E%2Fpackage.json', '/docs/constructor', '/docs/']) {
      expectCleanProblem(await raw('GET', path), 404, 'not_found');
    }
  });

  it('every response but the docs page allows no script or style at all, inline or not', async () => {
    const r = await raw('GET', '/openapi.json');
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toMatch(/style-src 'none'/);
    expect(csp).not.toContain('unsafe-');
  });
});
