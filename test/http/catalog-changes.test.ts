/**
 * Every catalog change commits with its audit event or not at all, over real
 * HTTP on real PostgreSQL: with the audit append function made unexecutable
 * for the application role, each change answers 503 `audit_unavailable` and
 * leaves nothing behind. And one storable-text rule covers every stored
 * catalog string: a NUL or a lone surrogate is a 400 before anything is
 * written (no row, no event).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminOf, enrollExisting, loginAs, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { withAuditAppendRefused } from '../support/db.ts';

let app: TestApp;
let admin: Person;
let bob: Person;
let svcId: string;
let credId: string;

const post = (path: string, body: unknown = {}) => app.call('POST', path, { token: admin.token, body });
const patch = (path: string, body: unknown) => app.call('PATCH', path, { token: admin.token, body });
const del = (path: string) => app.call('DELETE', path, { token: admin.token });

/** Everything a catalog change could write, as one comparable value. */
async function fingerprint(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  // Sessions: whether each is revoked (every request moves last_seen_at, which is not a change).
  const tables = ['projects', 'vendors', 'baas', 'principals', 'datasets', 'enrollments', 'service_credentials', '(SELECT id, revoked_at FROM sessions)', 'audit_events'];
  for (const t of tables) {
    // Table names come from the list above, never from input.
    const [r] = await app.db.sql.unsafe(`SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') AS f FROM ${t} t`);
    out[t] = r!.f as string;
  }
  return out;
}

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  await loginAs(app, admin);
  expect((await post('/v1/projects', { id: 'p1', name: 'Project one' })).status).toBe(201);
  expect((await post('/v1/vendors', { id: 'v1', name: 'Vendor one' })).status).toBe(201);
  const b = await post('/v1/principals', { kind: 'user', name: 'bob' });
  expect(b.status).toBe(201);
  bob = await enrollExisting(app, b.body.id, 'bob');
  const ds = await post('/v1/datasets', { id: 'd1', project_id: 'p1', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'note_text' }] });
  expect(ds.status, JSON.stringify(ds.body)).toBe(201);
  // A service the administrator sponsors, so the administrator may create its credentials.
  const svc = await post('/v1/principals', { kind: 'service', name: 'etl', sponsor_id: admin.id, project_id: 'p1' });
  svcId = svc.body.id;
  const cred = await post(`/v1/principals/${svcId}/credentials`);
  expect(cred.status, JSON.stringify(cred.body)).toBe(201);
  credId = cred.body.credential_id;
});
afterAll(async () => app?.close());
beforeEach(async () => {
  await loginAs(app, admin);
});

describe('a change and its audit event commit together', () => {
  it('with the audit append refused to the application role, every catalog change answers 503 audit_unavailable and leaves nothing behind', async () => {
    const before = await fingerprint();
    const changes: [string, () => Promise<{ status: number; body: any }>][] = [
      ['create project', () => post('/v1/projects', { id: 'p-lost', name: 'Lost' })],
      ['update project', () => patch('/v1/projects/p1', { name: 'Renamed' })],
      ['create vendor', () => post('/v1/vendors', { id: 'v-lost', name: 'Lost' })],
      ['update vendor', () => patch('/v1/vendors/v1', { name: 'Renamed' })],
      ['record BAA', () => post('/v1/vendors/v1/baas', { reference: 'BAA-1', effective_on: '2026-01-01', expires_on: '2027-01-01', purposes: ['research'], classifications: ['deidentified'] })],
      ['create person (with enrollment secret)', () => post('/v1/principals', { kind: 'user', name: 'carol' })],
      ['create service', () => post('/v1/principals', { kind: 'service', name: 'lost-svc', sponsor_id: admin.id, project_id: 'p1' })],
      ['disable person (ends sessions)', () => patch(`/v1/principals/${bob.id}`, { status: 'disabled' })],
      ['change sponsor (revokes credentials)', () => patch(`/v1/principals/${svcId}`, { sponsor_id: bob.id })],
      ['issue enrollment secret', () => post(`/v1/principals/${bob.id}/enrollment`)],
      ['end sessions', () => post(`/v1/principals/${bob.id}/sessions/revoke`)],
      ['create dataset', () => post('/v1/datasets', { id: 'd-lost', project_id: 'p1', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'x' }] })],
      ['update dataset', () => patch('/v1/datasets/d1', { description: 'changed' })],
      ['create client credential', () => post(`/v1/principals/${svcId}/credentials`)],
      ['revoke client credential', () => del(`/v1/principals/${svcId}/credentials/${credId}`)],
    ];
    // The failure is real: the application role may no longer run the append function.
    await withAuditAppendRefused(app.db.sql, async () => {
      for (const [name, change] of changes) {
        const r = await change();
        expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(503);
        expect(r.body.code, name).toBe('audit_unavailable');
        expect(JSON.stringify(r.body), name).not.toMatch(/custos_append_audit|permission denied|SQL/i);
        expect(await fingerprint(), name).toEqual(before);
      }
      // Bob's session outlived the refused disable and session revocation.
      expect((await app.call('GET', '/v1/me', { token: bob.token })).status).toBe(200);
    });
    // Control: with the log writable again, the same change commits with its event.
    const ok = await post('/v1/projects', { id: 'p-lost', name: 'Lost' });
    expect(ok.status).toBe(201);
    const [ev] = await app.db.sql`SELECT actor_id, details FROM audit_events WHERE type = 'catalog.project.created' AND details->>'id' = 'p-lost'`;
    expect(ev!.actor_id).toBe(admin.id);
  });

  it('disabling a person ends their sessions in the same change, recorded in its event', async () => {
    const carol = await post('/v1/principals', { kind: 'user', name: 'carol-2' });
    const person = await enrollExisting(app, carol.body.id, 'carol-2');
    await loginAs(app, admin);
    const r = await patch(`/v1/principals/${person.id}`, { status: 'disabled' });
    expect(r.status).toBe(200);
    expect((await app.call('GET', '/v1/me', { token: person.token })).status).toBe(401);
    const [ev] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'catalog.principal.updated' AND subject_id = ${person.id}`;
    expect(ev!.details.sessions_revoked).toBeGreaterThanOrEqual(1);
    expect(ev!.details.after.status).toBe('disabled');
  });
});

describe('nobody changes their own attributes or status', () => {
  it('refuses an administrator widening their own attributes (policy condition inputs) with 403, audited, changing nothing', async () => {
    const before = await fingerprint();
    const r = await patch(`/v1/principals/${admin.id}`, { attributes: { clearance: 'phi' } });
    expect(r.status, JSON.stringify(r.body)).toBe(403);
    expect(r.body.code).toBe('forbidden');
    const [ev] = await app.db.sql`SELECT outcome, details FROM audit_events WHERE type = 'catalog.principal.updated' AND subject_id = ${admin.id}`;
    expect(ev!.outcome).toBe('failure');
    expect(ev!.details).toEqual({ reason: 'self-change', fields: ['attributes'] });
    const after = await fingerprint();
    expect({ ...after, audit_events: '' }).toEqual({ ...before, audit_events: '' });
    // Their own display name is theirs to change.
    expect((await patch(`/v1/principals/${admin.id}`, { display_name: 'The administrator' })).status).toBe(200);
  });
});

describe('one storable-text rule for every stored catalog string', () => {
  const BAD = { NUL: 'a\u0000b', 'lone surrogate': 'a\uD800b' };
  // A P-256 public key (the curve's generator point): valid, so only the bad member is refused.
  const EC_JWK = { kty: 'EC', crv: 'P-256', x: 'axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY', y: 'T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU' };
  const baa = (reference: string) => ({ reference, effective_on: '2026-01-01', expires_on: '2027-01-01', purposes: ['research'], classifications: ['deidentified'] });
  const dataset = (extra: Record<string, unknown>) => ({ id: 'd-bad', project_id: 'p1', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'x' }], ...extra });
  const cases: [string, string, (bad: string) => Promise<{ status: number; body: any }>][] = [
    ['project name', 'body.name', (bad) => post('/v1/projects', { id: 'p-bad', name: bad })],
    ['project description (update)', 'body.description', (bad) => patch('/v1/projects/p1', { description: bad })],
    ['vendor name', 'body.name', (bad) => post('/v1/vendors', { id: 'v-bad', name: bad })],
    ['vendor name (update)', 'body.name', (bad) => patch('/v1/vendors/v1', { name: bad })],
    ['BAA reference', 'body.reference', (bad) => post('/v1/vendors/v1/baas', baa(bad))],
    ['person display name', 'body.display_name', (bad) => post('/v1/principals', { kind: 'user', name: 'dave', display_name: bad })],
    ['service attribute value', 'body.attributes.team', (bad) => post('/v1/principals', { kind: 'service', name: 'svc-bad', sponsor_id: admin.id, project_id: 'p1', attributes: { team: bad } })],
    ['person attribute list (update)', 'body.attributes.tags.0', (bad) => patch(`/v1/principals/${bob.id}`, { attributes: { tags: [bad] } })],
    ['person display name (update)', 'body.display_name', (bad) => patch(`/v1/principals/${bob.id}`, { display_name: bad })],
    ['dataset description', 'body.description', (bad) => post('/v1/datasets', dataset({ description: bad }))],
    ['dataset expert determination method', 'body.expert_determination.method', (bad) => post('/v1/datasets', dataset({ expert_determination: { expert: 'E', method: bad, determined_on: '2026-01-01', expires_on: '2027-01-01' } }))],
    ['dataset data use agreement reference', 'body.data_use_agreement.reference', (bad) => post('/v1/datasets', dataset({ data_use_agreement: { reference: bad, signed_on: '2026-01-01', expires_on: '2027-01-01' } }))],
    ['dataset column name', 'body.columns.0.name', (bad) => post('/v1/datasets', dataset({ columns: [{ name: bad }] }))],
    ['dataset description (update)', 'body.description', (bad) => patch('/v1/datasets/d1', { description: bad })],
    ['dataset audience (update)', 'body.audience', (bad) => patch('/v1/datasets/d1', { audience: bad })],
    ['client key member (private_key_jwt)', 'body.jwks.keys.0.kid', (bad) => post(`/v1/principals/${svcId}/credentials`, { jwks: { keys: [{ ...EC_JWK, kid: bad }] } })],
  ];
  for (const [what, path, send] of cases) {
    for (const [kind, bad] of Object.entries(BAD)) {
      it(`${what} with a ${kind}: 400 naming ${path}, nothing written`, async () => {
        const before = await fingerprint();
        const r = await send(bad);
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body.code).toBe('invalid_request');
        expect((r.body.errors as { path: string }[]).map((e) => e.path)).toContain(path);
        expect(await fingerprint()).toEqual(before);
      });
    }
  }
});
