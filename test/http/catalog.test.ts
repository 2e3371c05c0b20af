/**
 * The catalog's admin API over real HTTP: projects, vendors and BAAs,
 * principals, roles with inheritance, role assignments, datasets with derived
 * classification, pagination, and who may call what.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { utcDate } from '../../src/catalog/classification.ts';
import { adminOf, loginAs, personDirect, personWithRoles, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
const PROJECT = 'core';
const DAY = 86_400_000;

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  const p = await app.call('POST', '/v1/projects', { token: admin.token, body: { id: PROJECT, name: 'Core project' } });
  if (p.status !== 201) throw new Error(`project: ${p.status} ${JSON.stringify(p.body)}`);
});
afterAll(async () => app?.close());
// Sessions last 15 minutes of the app's clock, which the tests move; start each test signed in.
beforeEach(async () => {
  await loginAs(app, admin);
});

let seq = 0;
const uniq = (prefix: string) => `${prefix}-${++seq}`;
/** The app's UTC date, shifted by whole days. */
const day = (offset = 0) => utcDate(new Date(app.clock.now().getTime() + offset * DAY));

const get = (path: string, token = admin.token) => app.call('GET', path, { token });
const post = (path: string, body: unknown, token = admin.token) => app.call('POST', path, { token, body });
const patch = (path: string, body: unknown, token = admin.token) => app.call('PATCH', path, { token, body });

function expectProblem(r: { status: number; body: any; headers: Headers }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body.code).toBe(code);
  expect(r.body.status).toBe(status);
}

/** The unknown-field issue a strict body produces. */
function expectUnknownField(r: { status: number; body: any; headers: Headers }, field: string) {
  expectProblem(r, 400, 'invalid_request');
  const messages = (r.body.errors as { path: string; message: string }[]).map((e) => e.message).join(' | ');
  expect(messages).toContain('unknown field');
  expect(messages).toContain(field);
}

async function newUser(name = uniq('user')): Promise<any> {
  const r = await post('/v1/principals', { kind: 'user', name });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function newProject(id = uniq('proj')): Promise<string> {
  const r = await post('/v1/projects', { id, name: `Project ${id}` });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return id;
}

function datasetBody(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    project_id: PROJECT,
    owner_id: admin.id,
    purposes: ['model-training'],
    columns: [{ name: 'age_bucket', type: 'integer' }, { name: 'diagnosis' }],
    ...extra,
  };
}

describe('projects', () => {
  it('creates, reads and updates a project', async () => {
    const created = await post('/v1/projects', { id: 'oncology', name: 'Oncology', description: 'tumour board' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'oncology', name: 'Oncology', description: 'tumour board' });
    expect(Date.parse(created.body.created_at)).not.toBeNaN();
    const got = await get('/v1/projects/oncology');
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);
    const upd = await patch('/v1/projects/oncology', { name: 'Oncology II' });
    expect(upd.status).toBe(200);
    expect(upd.body).toMatchObject({ id: 'oncology', name: 'Oncology II', description: 'tumour board' });
    expect((await get('/v1/projects/oncology')).body.name).toBe('Oncology II');
  });

  it('defaults description to empty and refuses a duplicate id with 409', async () => {
    const id = uniq('dup');
    const a = await post('/v1/projects', { id, name: 'A' });
    expect(a.body.description).toBe('');
    const b = await post('/v1/projects', { id, name: 'B' });
    expectProblem(b, 409, 'conflict');
    expect((await get(`/v1/projects/${id}`)).body.name).toBe('A');
  });

  it('refuses ids that are not slugs and empty names', async () => {
    for (const body of [{ id: 'Upper', name: 'x' }, { id: '-lead', name: 'x' }, { id: 'a'.repeat(64), name: 'x' }, { id: 'ok-id', name: '' }, { name: 'no id' }]) {
      expectProblem(await post('/v1/projects', body), 400, 'invalid_request');
    }
  });

  it('answers 404 not_found for an unknown project, on GET and PATCH', async () => {
    const r = await get('/v1/projects/no-such-project');
    expectProblem(r, 404, 'not_found');
    expectProblem(await patch('/v1/projects/no-such-project', { name: 'x' }), 404, 'not_found');
  });
});

describe('vendors and BAAs', () => {
  it('derives each BAA\'s active flag from the clock date', async () => {
    const v = await post('/v1/vendors', { id: 'labelco', name: 'LabelCo' });
    expect(v.status).toBe(201);
    expect(v.body.baas).toEqual([]);
    const baa = (reference: string, effective_on: string, expires_on: string) =>
      post('/v1/vendors/labelco/baas', { reference, effective_on, expires_on, purposes: ['model-training'], classifications: ['deidentified'] });

    expect(day()).toBe('2026-06-01');
    const current = await baa('current', '2026-01-01', '2027-01-01');
    expect(current.status).toBe(201);
    expect(current.body).toMatchObject({ vendor_id: 'labelco', reference: 'current', effective_on: '2026-01-01', expires_on: '2027-01-01', active: true });
    const expired = await baa('expired', '2025-01-01', '2026-05-31');
    expect(expired.body.active).toBe(false);
    const endsToday = await baa('ends-today', '2025-06-01', '2026-06-01');
    expect(endsToday.body.active).toBe(false);
    const startsToday = await baa('starts-today', '2026-06-01', '2026-06-30');
    expect(startsToday.body.active).toBe(true);
    const future = await baa('future', '2026-06-02', '2027-06-02');
    expect(future.body.active).toBe(false);

    const got = await get('/v1/vendors/labelco');
    expect(got.status).toBe(200);
    const active = Object.fromEntries(got.body.baas.map((b: any) => [b.reference, b.active]));
    expect(active).toEqual({ current: true, expired: false, 'ends-today': false, 'starts-today': true, future: false });
    // Ordered by effective date.
    expect(got.body.baas.map((b: any) => b.reference)).toEqual(['expired', 'ends-today', 'current', 'starts-today', 'future']);
  });

  it('refuses a BAA that ends before it starts, an unknown vendor and unknown fields', async () => {
    await post('/v1/vendors', { id: 'annotate', name: 'Annotate Inc' });
    const base = { reference: 'r', purposes: ['research'], classifications: ['phi'] };
    expectProblem(await post('/v1/vendors/annotate/baas', { ...base, effective_on: '2026-06-01', expires_on: '2026-06-01' }), 400, 'invalid_request');
    expectProblem(await post('/v1/vendors/annotate/baas', { ...base, effective_on: '2026-06-01', expires_on: '2026-05-01' }), 400, 'invalid_request');
    expectProblem(await post('/v1/vendors/annotate/baas', { ...base, effective_on: '2026-06-01', expires_on: '2027-06-01', purposes: ['gossip'] }), 400, 'invalid_request');
    expectUnknownField(await post('/v1/vendors/annotate/baas', { ...base, effective_on: '2026-06-01', expires_on: '2027-06-01', active: true }), 'active');
    expectProblem(await post('/v1/vendors/nobody/baas', { ...base, effective_on: '2026-06-01', expires_on: '2027-06-01' }), 404, 'not_found');
    expect((await get('/v1/vendors/annotate')).body.baas).toEqual([]);
  });

  it('a BAA stops being active once the clock passes its expiry', async () => {
    await post('/v1/vendors', { id: 'shortterm', name: 'Short Term' });
    const r = await post('/v1/vendors/shortterm/baas', { reference: 's', effective_on: day(-10), expires_on: day(1), purposes: ['research'], classifications: ['phi'] });
    expect(r.body.active).toBe(true);
    app.clock.advance(DAY);
    await loginAs(app, admin);
    const got = await get('/v1/vendors/shortterm');
    expect(got.body.baas[0].active).toBe(false);
  });
});

describe('principals', () => {
  it('shows a person\'s enrollment secret in the create answer only', async () => {
    const created = await post('/v1/principals', { kind: 'user', name: 'grace', display_name: 'Grace H', email: 'grace@example.org' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'user', name: 'grace', display_name: 'Grace H', email: 'grace@example.org', status: 'active', sponsor_id: null, project_id: null });
    const secret: string = created.body.enrollment.secret;
    expect(secret).toMatch(/^cen_/);
    expect(Date.parse(created.body.enrollment.expires_at)).toBeGreaterThan(app.clock.now().getTime());

    const got = await get(`/v1/principals/${created.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).not.toHaveProperty('enrollment');
    const { enrollment: _e, ...rest } = created.body;
    expect(got.body).toEqual(rest);
    expect(JSON.stringify(got.body)).not.toContain(secret);

    // Nowhere in any page of the list either.
    let cursor: string | null = null;
    do {
      const page: any = await get(`/v1/principals?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      const text = JSON.stringify(page.body);
      expect(text).not.toContain(secret);
      expect(text).not.toContain('"enrollment"');
      cursor = page.body.next_cursor;
    } while (cursor);
    // Stored only as a hash.
    const rows = await app.db.sql`SELECT * FROM enrollments WHERE principal_id = ${created.body.id}`;
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(secret.slice(4));
    // And it works once.
    const enr = await app.call('POST', '/v1/auth/enroll', { body: { username: 'grace', enrollment_secret: secret, password: 'a sensible passphrase of mine' } });
    expect(enr.status).toBe(200);
  });

  it('refuses a duplicate name with 409', async () => {
    const name = uniq('twin');
    await newUser(name);
    expectProblem(await post('/v1/principals', { kind: 'user', name }), 409, 'conflict');
  });

  it('creates a service with an active sponsor and a project, without an enrollment', async () => {
    const sponsor = await newUser();
    const r = await post('/v1/principals', { kind: 'service', name: uniq('job'), sponsor_id: sponsor.id, project_id: PROJECT });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ kind: 'service', sponsor_id: sponsor.id, project_id: PROJECT, email: null });
    expect(r.body).not.toHaveProperty('enrollment');
    // A service never enrolls.
    expectProblem(await post(`/v1/principals/${r.body.id}/enrollment`, {}), 400, 'invalid_request');
  });

  it('requires a service\'s sponsor_id and project_id', async () => {
    const sponsor = await newUser();
    expectProblem(await post('/v1/principals', { kind: 'service', name: uniq('job'), project_id: PROJECT }), 400, 'invalid_request');
    expectProblem(await post('/v1/principals', { kind: 'service', name: uniq('job'), sponsor_id: sponsor.id }), 400, 'invalid_request');
    expectProblem(await post('/v1/principals', { kind: 'service', name: uniq('job'), sponsor_id: sponsor.id, project_id: 'no-such-project' }), 400, 'invalid_request');
    expectProblem(await post('/v1/principals', { kind: 'service', name: uniq('job'), sponsor_id: '00000000-0000-7000-8000-000000000000', project_id: PROJECT }), 400, 'invalid_request');
    // People have no sponsor.
    expectUnknownField(await post('/v1/principals', { kind: 'user', name: uniq('p'), sponsor_id: sponsor.id }), 'sponsor_id');
  });

  it('refuses a service sponsored by a service or by a disabled person', async () => {
    const sponsor = await newUser();
    const svc = await post('/v1/principals', { kind: 'service', name: uniq('job'), sponsor_id: sponsor.id, project_id: PROJECT });
    expect(svc.status).toBe(201);
    const bySvc = await post('/v1/principals', { kind: 'service', name: uniq('job'), sponsor_id: svc.body.id, project_id: PROJECT });
    expectProblem(bySvc, 400, 'invalid_request');
    expect(bySvc.body.errors[0].path).toBe('body.sponsor_id');

    const off = await newUser();
    expect((await patch(`/v1/principals/${off.id}`, { status: 'disabled' })).body.status).toBe('disabled');
    const name = uniq('job');
    const byDisabled = await post('/v1/principals', { kind: 'service', name, sponsor_id: off.id, project_id: PROJECT });
    expectProblem(byDisabled, 400, 'invalid_request');
    expect(byDisabled.body.errors[0].path).toBe('body.sponsor_id');
    const [row] = await app.db.sql`SELECT count(*)::int AS n FROM principals WHERE name = ${name}`;
    expect(row!.n).toBe(0);
  });

  it('updates display name, email and attributes', async () => {
    const u = await newUser();
    const r = await patch(`/v1/principals/${u.id}`, { display_name: 'New Name', email: 'n@example.org', attributes: { team: 'ml', clearance: 2 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ display_name: 'New Name', email: 'n@example.org', attributes: { team: 'ml', clearance: 2 }, kind: 'user', name: u.name });
    const cleared = await patch(`/v1/principals/${u.id}`, { email: null });
    expect(cleared.body.email).toBeNull();
    expect(cleared.body.display_name).toBe('New Name');
  });

  it('answers 400 for a principal id that is not a uuid and 404 for an unknown one', async () => {
    expectProblem(await get('/v1/principals/not-a-uuid'), 400, 'invalid_request');
    expectProblem(await get('/v1/principals/00000000-0000-7000-8000-000000000000'), 404, 'not_found');
    expectProblem(await patch('/v1/principals/00000000-0000-7000-8000-000000000000', { display_name: 'x' }), 404, 'not_found');
  });
});

describe('roles', () => {
  it('a custom role inheriting system-administrator gives its holder catalog permissions', async () => {
    const role = await post('/v1/roles', { id: 'catalog-keeper', description: 'keeps the catalog', inherits: ['system-administrator'] });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    expect(role.body).toMatchObject({ id: 'catalog-keeper', inherits: ['system-administrator'] });
    // Two levels down still inherits.
    expect((await post('/v1/roles', { id: 'junior-keeper', inherits: ['catalog-keeper'] })).status).toBe(201);

    const keeper = await personWithRoles(app, admin, uniq('keeper'), ['junior-keeper']);
    const me = await get('/v1/me', keeper.token);
    expect(me.body.roles).toEqual(expect.arrayContaining(['junior-keeper', 'catalog-keeper', 'system-administrator']));
    const made = await post('/v1/projects', { id: uniq('kept'), name: 'made by a keeper' }, keeper.token);
    expect(made.status, JSON.stringify(made.body)).toBe(201);

    // Control: a custom role inheriting nothing of the kind grants nothing.
    expect((await post('/v1/roles', { id: 'reader-ish', inherits: ['ai-researcher'] })).status).toBe(201);
    const other = await personWithRoles(app, admin, uniq('other'), ['reader-ish']);
    expectProblem(await post('/v1/projects', { id: uniq('nope'), name: 'x' }, other.token), 403, 'forbidden');
  });

  it('refuses an inheritance cycle a -> b -> a with 409 and keeps the old edges', async () => {
    expect((await post('/v1/roles', { id: 'cyc-a' })).status).toBe(201);
    expect((await post('/v1/roles', { id: 'cyc-b', inherits: ['cyc-a'] })).status).toBe(201);
    expect((await post('/v1/roles', { id: 'cyc-c', inherits: ['cyc-b'] })).status).toBe(201);
    expectProblem(await patch('/v1/roles/cyc-a', { inherits: ['cyc-b'] }), 409, 'conflict');
    expectProblem(await patch('/v1/roles/cyc-a', { inherits: ['cyc-c'] }), 409, 'conflict');
    expect((await get('/v1/roles/cyc-a')).body.inherits).toEqual([]);
    expect((await get('/v1/roles/cyc-b')).body.inherits).toEqual(['cyc-a']);
    // A role with old parents refused a cyclic edit keeps its old parents.
    expect((await patch('/v1/roles/cyc-b', { inherits: ['approver', 'cyc-c'] })).status).toBe(409);
    expect((await get('/v1/roles/cyc-b')).body.inherits).toEqual(['cyc-a']);
  });

  it('refuses self-inheritance with 400, on create (nothing created) and on update', async () => {
    expectProblem(await post('/v1/roles', { id: 'narcissus', inherits: ['narcissus'] }), 400, 'invalid_request');
    expectProblem(await get('/v1/roles/narcissus'), 404, 'not_found');
    expect((await post('/v1/roles', { id: 'echo', inherits: ['approver'] })).status).toBe(201);
    expectProblem(await patch('/v1/roles/echo', { inherits: ['approver', 'echo'] }), 400, 'invalid_request');
    expect((await get('/v1/roles/echo')).body.inherits).toEqual(['approver']);
  });

  it('refuses an unknown parent role with 400', async () => {
    expectProblem(await post('/v1/roles', { id: 'orphan', inherits: ['no-such-role'] }), 400, 'invalid_request');
    expectProblem(await get('/v1/roles/orphan'), 404, 'not_found');
  });

  it('lists the shipped roles and sorts inherits', async () => {
    expect((await post('/v1/roles', { id: 'multi', inherits: ['security-reviewer', 'approver', 'approver'] })).body.inherits).toEqual(['approver', 'security-reviewer']);
    const list = await get('/v1/roles?limit=200');
    const ids = list.body.items.map((r: any) => r.id);
    expect(ids).toEqual(expect.arrayContaining(['ai-researcher', 'data-scientist', 'system-administrator', 'security-reviewer', 'approver']));
    expect(ids).toEqual([...ids].sort());
  });
});

describe('role assignments', () => {
  it('waits for a second administrator when the assigner received the person\'s enrollment secret (they could be that person)', async () => {
    const u = await newUser();
    const r = await post('/v1/role-assignments', { principal_id: u.id, role_id: 'ai-researcher' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toMatchObject({ kind: 'role.assign', target: u.id, status: 'pending', reasons: ['holds-their-secret'] });
    expect((await get(`/v1/role-assignments?principal_id=${u.id}`)).body.items).toEqual([]);
  });

  it('assigns org-wide and per project, refusing duplicates with 409', async () => {
    // Someone whose enrollment secret this administrator never received (see the next test for one they did).
    const u = await app.wired.catalog.createPrincipal({ kind: 'user', name: uniq('user') });
    const proj = await newProject();
    const org = await post('/v1/role-assignments', { principal_id: u.id, role_id: 'ai-researcher' });
    expect(org.status).toBe(201);
    expect(org.body).toMatchObject({ principal_id: u.id, role_id: 'ai-researcher', project_id: null, created_by: admin.id });
    const inProj = await post('/v1/role-assignments', { principal_id: u.id, role_id: 'ai-researcher', project_id: proj });
    expect(inProj.status).toBe(201);
    expect(inProj.body.project_id).toBe(proj);
    expectProblem(await post('/v1/role-assignments', { principal_id: u.id, role_id: 'ai-researcher' }), 409, 'conflict');
    expectProblem(await post('/v1/role-assignments', { principal_id: u.id, role_id: 'ai-researcher', project_id: null }), 409, 'conflict');
    expectProblem(await post('/v1/role-assignments', { principal_id: u.id, role_id: 'ai-researcher', project_id: proj }), 409, 'conflict');

    const listed = await get(`/v1/role-assignments?principal_id=${u.id}`);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((a: any) => a.id).sort()).toEqual([org.body.id, inProj.body.id].sort());
  });

  it('refuses assigning a role to yourself with 403 and records nothing', async () => {
    const before = await get(`/v1/role-assignments?principal_id=${admin.id}`);
    const r = await post('/v1/role-assignments', { principal_id: admin.id, role_id: 'security-reviewer' });
    expectProblem(r, 403, 'forbidden');
    const after = await get(`/v1/role-assignments?principal_id=${admin.id}`);
    expect(after.body.items).toEqual(before.body.items);
  });

  it('refuses an unknown role, project or principal with 400', async () => {
    const u = await newUser();
    expectProblem(await post('/v1/role-assignments', { principal_id: u.id, role_id: 'no-such-role' }), 400, 'invalid_request');
    expectProblem(await post('/v1/role-assignments', { principal_id: u.id, role_id: 'approver', project_id: 'no-such-project' }), 400, 'invalid_request');
    expectProblem(await post('/v1/role-assignments', { principal_id: '00000000-0000-7000-8000-000000000000', role_id: 'approver' }), 400, 'invalid_request');
    expect((await get(`/v1/role-assignments?principal_id=${u.id}`)).body.items).toEqual([]);
  });

  it('a per-project system-administrator assignment grants no catalog permission', async () => {
    const proj = await newProject();
    const u = await personWithRoles(app, admin, uniq('projadmin'), []);
    // An administrative role waits for a second administrator in any scope (test/http/dual-control.test.ts); assigned here directly.
    expect((await post('/v1/role-assignments', { principal_id: u.id, role_id: 'system-administrator', project_id: proj })).status).toBe(202);
    await app.wired.catalog.assignRole({ principal_id: u.id, role_id: 'system-administrator', project_id: proj }, admin.id);
    expectProblem(await get('/v1/projects', u.token), 403, 'forbidden');
  });

  it('removing an assignment takes the permission away at the next request', async () => {
    const u = await personWithRoles(app, admin, uniq('temp'), ['security-reviewer']);
    expect((await get('/v1/projects', u.token)).status).toBe(200);
    const [a] = (await get(`/v1/role-assignments?principal_id=${u.id}`)).body.items;
    expect((await app.call('DELETE', `/v1/role-assignments/${a.id}`, { token: admin.token })).status).toBe(204);
    expectProblem(await get('/v1/projects', u.token), 403, 'forbidden');
    expectProblem(await app.call('DELETE', `/v1/role-assignments/${a.id}`, { token: admin.token }), 404, 'not_found');
  });
});

describe('datasets', () => {
  it('derives classification: an ssn column is phi; a current expert determination makes it deidentified; expiry makes it phi again', async () => {
    const id = 'claims.2026_q1';
    const created = await post('/v1/datasets', datasetBody(id, { columns: [{ name: 'member_ssn', category: 'ssn' }, { name: 'amount', type: 'number' }] }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ id, classification: 'phi', classification_basis: 'identifiers-present', identifier_categories: ['ssn'], audience: `urn:custos:dataset:${id}` });

    const ed = { expert: 'Dr. Stat', method: 'k-anonymity, k=11', determined_on: day(0), expires_on: day(2) };
    const patched = await patch(`/v1/datasets/${id}`, { expert_determination: ed });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ classification: 'deidentified', classification_basis: 'expert-determination', expert_determination: ed, identifier_categories: ['ssn'] });
    // The rest of the dataset is untouched.
    expect(patched.body.columns).toEqual(created.body.columns);
    expect(patched.body.purposes).toEqual(['model-training']);

    app.clock.advance(DAY);
    await loginAs(app, admin);
    expect((await get(`/v1/datasets/${id}`)).body.classification).toBe('deidentified');

    app.clock.advance(DAY); // now on expires_on: no longer current
    await loginAs(app, admin);
    const got = await get(`/v1/datasets/${id}`);
    expect(got.body).toMatchObject({ classification: 'phi', classification_basis: 'identifiers-present' });
    const listed = (await get('/v1/datasets?limit=200')).body.items.find((d: any) => d.id === id);
    expect(listed.classification).toBe('phi');
  });

  it('classifies safe harbor and limited data sets, and follows column and record changes', async () => {
    const plain = await post('/v1/datasets', datasetBody('plain'));
    expect(plain.body).toMatchObject({ classification: 'deidentified', classification_basis: 'safe-harbor', identifier_categories: [] });

    const dua = { reference: 'DUA-7', signed_on: day(-30), expires_on: day(300) };
    const lim = await post('/v1/datasets', datasetBody('limited-set', { columns: [{ name: 'admit', type: 'date', category: 'dates' }, { name: 'zip5', category: 'geographic' }], data_use_agreement: dua }));
    expect(lim.status, JSON.stringify(lim.body)).toBe(201);
    expect(lim.body).toMatchObject({ classification: 'limited', classification_basis: 'limited-data-set', identifier_categories: ['dates', 'geographic'] });

    // Adding a name column ends the limited data set.
    const named = await patch('/v1/datasets/limited-set', { columns: [{ name: 'admit', category: 'dates' }, { name: 'patient', category: 'names' }] });
    expect(named.body).toMatchObject({ classification: 'phi', identifier_categories: ['dates', 'names'] });
    // Removing the DUA from a dates-only schema: phi.
    await patch('/v1/datasets/limited-set', { columns: [{ name: 'admit', category: 'dates' }] });
    expect((await get('/v1/datasets/limited-set')).body.classification).toBe('limited');
    const noDua = await patch('/v1/datasets/limited-set', { data_use_agreement: null });
    expect(noDua.body).toMatchObject({ classification: 'phi', data_use_agreement: null });
  });

  it('refuses a classification typed in, on create and update, naming the field', async () => {
    const r = await post('/v1/datasets', datasetBody('typed-in', { columns: [{ name: 'ssn', category: 'ssn' }], classification: 'deidentified' }));
    expectUnknownField(r, 'classification');
    expectProblem(await get('/v1/datasets/typed-in'), 404, 'not_found');

    expect((await post('/v1/datasets', datasetBody('typed-later', { columns: [{ name: 'ssn', category: 'ssn' }] }))).status).toBe(201);
    expectUnknownField(await patch('/v1/datasets/typed-later', { classification: 'deidentified' }), 'classification');
    expectUnknownField(await patch('/v1/datasets/typed-later', { classification_basis: 'safe-harbor' }), 'classification_basis');
    expectUnknownField(await patch('/v1/datasets/typed-later', { description: 'ok', identifier_categories: [] }), 'identifier_categories');
    const got = await get('/v1/datasets/typed-later');
    expect(got.body).toMatchObject({ classification: 'phi', description: '' });
  });

  it('validates columns, records and references', async () => {
    const bad = [
      datasetBody('d1', { columns: [{ name: 'a' }, { name: 'a' }] }),
      datasetBody('d2', { columns: [] }),
      datasetBody('d3', { columns: [{ name: 'a', category: 'shoe-size' }] }),
      datasetBody('d4', { columns: [{ name: 'a b' }] }),
      datasetBody('d5', { purposes: [] }),
      datasetBody('d6', { expert_determination: { expert: 'x', method: 'y', determined_on: '2026-06-01', expires_on: '2026-06-01' } }),
      datasetBody('d7', { project_id: 'no-such-project' }),
      datasetBody('d8', { owner_id: '00000000-0000-7000-8000-000000000000' }),
      datasetBody('Upper'),
    ];
    for (const body of bad) expectProblem(await post('/v1/datasets', body), 400, 'invalid_request');
    expect((await post('/v1/datasets', datasetBody('once'))).status).toBe(201);
    expectProblem(await post('/v1/datasets', datasetBody('once')), 409, 'conflict');
  });
});

describe('pagination', () => {
  it('walks every project exactly once, in order, three at a time', async () => {
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push(await newProject(`page-${i}-${seq}`));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: any = await get(`/v1/projects?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(3);
      if (r.body.next_cursor !== null) expect(r.body.items).toHaveLength(3);
      seen.push(...r.body.items.map((p: any) => p.id));
      cursor = r.body.next_cursor;
      pages++;
      expect(pages).toBeLessThan(100);
    } while (cursor !== null);
    const all = (await app.db.sql`SELECT id FROM projects ORDER BY id`).map((r) => r.id as string);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of made) expect(seen.filter((s) => s === id)).toHaveLength(1);
    expect(pages).toBe(Math.ceil(all.length / 3));
  });

  it('pages principals by id', async () => {
    for (let i = 0; i < 4; i++) await newUser();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: any = await get(`/v1/principals?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((p: any) => p.id));
      cursor = r.body.next_cursor;
    } while (cursor !== null);
    const all = (await app.db.sql`SELECT id FROM principals ORDER BY id`).map((r) => r.id as string);
    expect(seen).toEqual(all);
  });

  it('finds principals by the start of their name, ignoring case, and pages the matches', async () => {
    // Names are lower case; the search text may be in any case.
    const mine = [await newUser('quentin-a'), await newUser('quentin-b'), await newUser('quentin.c')].map((p) => p.id as string).sort();
    await newUser('xquentin');
    await newUser('quen_tin');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: any = await get(`/v1/principals?name=qUeNtIn&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      seen.push(...r.body.items.map((p: any) => p.id));
      cursor = r.body.next_cursor;
    } while (cursor !== null);
    // A prefix, not a substring: xquentin is not found.
    expect(seen).toEqual(mine);
    // `%` and `_` are ordinary characters (no LIKE): `quen_` finds quen_tin only, `%` finds nobody.
    expect((await get('/v1/principals?name=quen_')).body.items.map((p: any) => p.name)).toEqual(['quen_tin']);
    expect((await get('/v1/principals?name=%25')).body.items).toEqual([]);
    expectProblem(await get('/v1/principals?name='), 400, 'invalid_request');
    // Reading the catalog is what it takes: a data scientist (no catalog:read) is refused.
    const sci = await personDirect(app, uniq('sci'), [{ role: 'data-scientist' }]);
    expectProblem(await get('/v1/principals?name=quentin', sci.token), 403, 'forbidden');
  });

  it('refuses a garbage cursor and out-of-range limits with 400', async () => {
    for (const q of ['cursor=!!!', 'cursor=%00', `cursor=${Buffer.from('no spaces allowed').toString('base64url')}`, 'limit=0', 'limit=201', 'limit=abc', 'limit=1.5', 'sort=id']) {
      expectProblem(await get(`/v1/projects?${q}`), 400, 'invalid_request');
    }
    // A well-formed cursor of the wrong kind for principals.
    expectProblem(await get(`/v1/principals?cursor=${Buffer.from('core').toString('base64url')}`), 400, 'invalid_request');
    expectProblem(await get('/v1/role-assignments?cursor=%27%3B'), 400, 'invalid_request');
  });
});

describe('unknown ids', () => {
  it.each([
    ['/v1/projects/nope-nope'],
    ['/v1/vendors/nope-nope'],
    ['/v1/roles/nope-nope'],
    ['/v1/datasets/nope.nope'],
    ['/v1/principals/00000000-0000-7000-8000-00000000abcd'],
  ])('GET %s answers 404 not_found as problem+json', async (path) => {
    const r = await get(path);
    expectProblem(r, 404, 'not_found');
    expect(r.body.type).toBe('urn:custos:problem:not_found');
    expect(r.body.request_id).toBe(r.headers.get('x-request-id'));
  });
});

const COLLECTIONS = ['/v1/projects', '/v1/principals', '/v1/roles', '/v1/role-assignments', '/v1/datasets', '/v1/vendors'];

/** A valid body for each collection, so a refusal cannot be blamed on validation. */
function validBody(collection: string): unknown {
  const n = uniq('authz');
  switch (collection) {
    case '/v1/projects':
      return { id: n, name: 'x' };
    case '/v1/vendors':
      return { id: n, name: 'x' };
    case '/v1/roles':
      return { id: n };
    case '/v1/principals':
      return { kind: 'user', name: n };
    case '/v1/role-assignments':
      return { principal_id: admin.id, role_id: 'approver' };
    default:
      return datasetBody(n);
  }
}

describe('authorization', () => {
  it.each(COLLECTIONS.map((c) => [c]))('%s refuses a caller without a token with 401', async (collection) => {
    for (const method of ['GET', 'POST']) {
      const r = await app.call(method, collection, method === 'POST' ? { body: validBody(collection) } : {});
      expectProblem(r, 401, 'unauthenticated');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('refuses a data-scientist reads and writes with 403', async () => {
    const ds = await personWithRoles(app, admin, uniq('ds'), ['data-scientist']);
    for (const c of COLLECTIONS) {
      expectProblem(await get(c, ds.token), 403, 'forbidden');
      expectProblem(await post(c, validBody(c), ds.token), 403, 'forbidden');
    }
    expectProblem(await get(`/v1/projects/${PROJECT}`, ds.token), 403, 'forbidden');
    expectProblem(await patch(`/v1/projects/${PROJECT}`, { name: 'hijacked' }, ds.token), 403, 'forbidden');
    expectProblem(await patch(`/v1/principals/${ds.id}`, { display_name: 'me' }, ds.token), 403, 'forbidden');
    expect((await get(`/v1/projects/${PROJECT}`)).body.name).toBe('Core project');
  });

  it('lets a security-reviewer read but not write', async () => {
    const sr = await personWithRoles(app, admin, uniq('sr'), ['security-reviewer']);
    for (const c of COLLECTIONS) {
      const r = await get(c, sr.token);
      expect(r.status, c).toBe(200);
      expect(Array.isArray(r.body.items)).toBe(true);
      expectProblem(await post(c, validBody(c), sr.token), 403, 'forbidden');
    }
    expect((await get(`/v1/projects/${PROJECT}`, sr.token)).status).toBe(200);
    expect((await get(`/v1/principals/${admin.id}`, sr.token)).status).toBe(200);
    expectProblem(await patch(`/v1/projects/${PROJECT}`, { name: 'reviewed' }, sr.token), 403, 'forbidden');
    expectProblem(await patch(`/v1/principals/${sr.id}`, { status: 'active' }, sr.token), 403, 'forbidden');
    expectProblem(await patch('/v1/roles/security-reviewer', { inherits: ['system-administrator'] }, sr.token), 403, 'forbidden');
    expectProblem(await post('/v1/vendors/labelco/baas', { reference: 'r', effective_on: '2026-01-01', expires_on: '2027-01-01', purposes: ['research'], classifications: ['phi'] }, sr.token), 403, 'forbidden');
    expect((await get('/v1/roles/security-reviewer')).body.inherits).toEqual([]);
  });

  it('ends a disabled person\'s existing session with 401', async () => {
    const u = await personWithRoles(app, admin, uniq('leaver'), ['security-reviewer']);
    expect((await get('/v1/projects', u.token)).status).toBe(200);
    const off = await patch(`/v1/principals/${u.id}`, { status: 'disabled' });
    expect(off.status).toBe(200);
    expect(off.body.status).toBe('disabled');
    const r = await get('/v1/projects', u.token);
    expectProblem(r, 401, 'unauthenticated');
    expectProblem(await get('/v1/me', u.token), 401, 'unauthenticated');
    // Nor can they sign in again.
    const pw = await app.call('POST', '/v1/auth/login', { body: { username: u.username, password: u.password } });
    expect(pw.status).toBe(401);
    // Re-enabling does not revive the sessions that disabling ended.
    expect((await patch(`/v1/principals/${u.id}`, { status: 'active' })).status).toBe(200);
    expectProblem(await get('/v1/me', u.token), 401, 'unauthenticated');
  });
});
