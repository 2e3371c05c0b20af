/**
 * GET /v1/principals/:id/access and GET /v1/datasets/:id/access over real
 * HTTP against a real PostgreSQL: what each principal can read now, from the
 * live facts and the policy in force.
 *
 * What must hold:
 * - a standing role shows its columns with `until` null; a grant shows its
 *   id and its expiry as `until`; break-glass only for `emergency`;
 * - a disabled principal reaches nothing (same role as one who does);
 * - a service is bounded by its sponsor (same roles, another sponsor);
 * - `identifiers=true` keeps only identifier columns;
 * - who may call: `catalog:read` / `audit:read` for anyone, a person for
 *   themselves; each refusal comes from that check;
 * - each read is an `audit.report` event.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, enrollExisting, personWithRoles, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let reviewer: Person;
let scientist: Person;
let tempId: string;
let disabledId: string;
let lapsedId: string;
let boundedJobId: string;
let jobId: string;
let grantId: string;
let glassId: string;
let grantEnds: Date;
let glassEnds: Date;

const NOTES = 'onc.notes';
/** What scientist-own-project-phi grants on it: every column but direct identifiers. */
const PERMITTED = ['note_text', 'admit_date'];

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  reviewer = await personWithRoles(app, admin, 'reviewer', ['security-reviewer']);
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  const sci = await c.createPrincipal({ kind: 'user', name: 'sci' });
  await c.assignRole({ principal_id: sci.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  await c.createDataset({
    id: NOTES,
    project_id: 'onc',
    owner_id: sci.id,
    purposes: ['model-training', 'emergency'],
    columns: [
      { name: 'patient_name', type: 'string', category: 'names' },
      { name: 'note_text', type: 'string' },
      { name: 'admit_date', type: 'date', category: 'dates' },
    ],
  });
  // Same standing role as the scientist, then disabled.
  const off = await c.createPrincipal({ kind: 'user', name: 'off' });
  await c.assignRole({ principal_id: off.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  await c.updatePrincipal(off.id, { status: 'disabled' });
  disabledId = off.id;
  // No standing role: a two-hour grant of the same role, and a break-glass activation of half an hour.
  const temp = await c.createPrincipal({ kind: 'user', name: 'temp' });
  tempId = temp.id;
  const now = app.clock.now().getTime();
  grantId = randomUUID();
  glassId = randomUUID();
  grantEnds = new Date(now + 7_200_000);
  glassEnds = new Date(now + 1_800_000);
  await app.db.sql`
    INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at)
    VALUES (${grantId}, ${tempId}, 'data-scientist', 'onc', ${new Date(now - 60_000)}, ${grantEnds})`;
  await app.db.sql`
    INSERT INTO grants (id, principal_id, role_id, project_id, dataset_id, not_before, expires_at, break_glass)
    VALUES (${glassId}, ${tempId}, 'emergency-access', 'onc', ${NOTES}, ${new Date(now - 60_000)}, ${glassEnds}, true)`;
  // The same grant, ended a minute ago.
  const lapsed = await c.createPrincipal({ kind: 'user', name: 'lapsed' });
  lapsedId = lapsed.id;
  await app.db.sql`
    INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at)
    VALUES (${randomUUID()}, ${lapsedId}, 'data-scientist', 'onc', ${new Date(now - 3_600_000)}, ${new Date(now - 60_000)})`;
  // Two jobs of the project with the same role: one sponsored by the scientist, one by someone with no role at all.
  const nobody = await c.createPrincipal({ kind: 'user', name: 'nobody' });
  const job = await c.createPrincipal({ kind: 'service', name: 'train-onc', sponsor_id: sci.id, project_id: 'onc' });
  const bounded = await c.createPrincipal({ kind: 'service', name: 'train-bounded', sponsor_id: nobody.id, project_id: 'onc' });
  for (const s of [job, bounded]) await c.assignRole({ principal_id: s.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  jobId = job.id;
  boundedJobId = bounded.id;
  await app.wired.invalidate();
  scientist = await enrollExisting(app, sci.id, 'sci');
});
afterAll(async () => app?.close());

const get = (path: string, token: string) => app.call('GET', path, { token });
const rowsOn = (body: any, principalId: string) => (body.items as any[]).filter((r) => r.principal_id === principalId);

describe('GET /v1/principals/:id/access', () => {
  it('shows standing access with the deciding rule and role, until null', async () => {
    const r = await get(`/v1/principals/${scientist.id}/access`, admin.token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.items).toEqual([
      {
        principal_id: scientist.id,
        dataset_id: NOTES,
        purpose: 'model-training',
        columns: PERMITTED,
        rules: ['scientist-own-project-phi'],
        roles: ['data-scientist'],
        basis: 'standing',
        grant_ids: [],
        until: null,
        obligations: [{ type: 'no-export' }, { type: 'review-within-24h' }],
      },
    ]);
    expect(typeof r.body.policy_version).toBe('string');
  });

  it('agrees with a decision for the same principal, dataset and purpose', async () => {
    const reach = await get(`/v1/principals/${scientist.id}/access`, admin.token);
    const ask = (columns: string[]) => app.call('POST', '/v1/decisions', { token: admin.token, body: { principal_id: scientist.id, dataset: NOTES, purpose: 'model-training', columns } });
    const allowed = await ask(reach.body.items[0].columns);
    expect(allowed.body).toMatchObject({ effect: 'allow', rules: reach.body.items[0].rules });
    expect((await ask([...reach.body.items[0].columns, 'patient_name'])).body.effect).toBe('deny');
  });

  it('shows access through grants with their ids and the earliest expiry as until; emergency only through break-glass', async () => {
    const r = await get(`/v1/principals/${tempId}/access`, reviewer.token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const byPurpose = Object.fromEntries(r.body.items.map((x: any) => [x.purpose, x]));
    expect(Object.keys(byPurpose).sort()).toEqual(['emergency', 'model-training']);
    expect(byPurpose['model-training']).toMatchObject({ columns: PERMITTED, basis: 'grant', grant_ids: [grantId], roles: ['data-scientist'], until: grantEnds.toISOString() });
    expect(byPurpose.emergency).toMatchObject({
      columns: ['patient_name', 'note_text', 'admit_date'],
      rules: ['break-glass-emergency'],
      roles: ['emergency-access'],
      basis: 'break-glass',
      grant_ids: [glassId],
      until: glassEnds.toISOString(),
    });
  });

  it('a grant that has expired reaches nothing (the same grant in force reaches the notes)', async () => {
    const r = await get(`/v1/principals/${lapsedId}/access`, admin.token);
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([]);
  });

  it('a disabled principal reaches nothing (the same role reaches the notes for an active one)', async () => {
    const r = await get(`/v1/principals/${disabledId}/access`, admin.token);
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([]);
  });

  it('a service is bounded by its sponsor', async () => {
    const job = await get(`/v1/principals/${jobId}/access`, admin.token);
    expect(job.body.items.map((x: any) => [x.dataset_id, x.purpose, x.columns])).toEqual([[NOTES, 'model-training', PERMITTED]]);
    const bounded = await get(`/v1/principals/${boundedJobId}/access`, admin.token);
    expect(bounded.status).toBe(200);
    expect(bounded.body.items).toEqual([]);
  });

  it('a person may read their own access, and not anyone else’s', async () => {
    const own = await get(`/v1/principals/${scientist.id}/access`, scientist.token);
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect(own.body.items).toHaveLength(1);
    const other = await get(`/v1/principals/${tempId}/access`, scientist.token);
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('forbidden');
  });

  it('refuses a caller without a session (401) and an unknown principal (404)', async () => {
    const anon = await app.call('GET', `/v1/principals/${scientist.id}/access`);
    expect(anon.status).toBe(401);
    const unknown = await get(`/v1/principals/${randomUUID()}/access`, admin.token);
    expect(unknown.status).toBe(404);
  });

  it('records each read as an audit.report event', async () => {
    await get(`/v1/principals/${tempId}/access`, reviewer.token);
    const [ev] = await app.db.sql`
      SELECT * FROM audit_events WHERE type = 'audit.report' AND actor_id = ${reviewer.id} AND details->>'report' = 'principal-access' ORDER BY at DESC LIMIT 1`;
    expect(ev).toBeDefined();
    expect(ev!.subject_id).toBe(tempId);
    expect(ev!.details).toMatchObject({ principal: tempId, rows: 2 });
  });
});

describe('GET /v1/datasets/:id/access', () => {
  it('lists every principal who can read the dataset now, with the same row shape', async () => {
    const r = await get(`/v1/datasets/${NOTES}/access`, reviewer.token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const who = [...new Set(r.body.items.map((x: any) => x.principal_id))].sort();
    expect(who).toEqual([scientist.id, tempId, jobId].sort());
    expect(rowsOn(r.body, tempId).find((x: any) => x.purpose === 'model-training')).toMatchObject({ grant_ids: [grantId], until: grantEnds.toISOString() });
    expect(rowsOn(r.body, scientist.id)).toEqual((await get(`/v1/principals/${scientist.id}/access`, reviewer.token)).body.items);
  });

  it('identifiers=true keeps only identifier columns', async () => {
    const r = await get(`/v1/datasets/${NOTES}/access?identifiers=true`, admin.token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(rowsOn(r.body, scientist.id).map((x: any) => x.columns)).toEqual([['admit_date']]);
    expect(rowsOn(r.body, tempId).find((x: any) => x.purpose === 'emergency').columns).toEqual(['patient_name', 'admit_date']);
    const [ev] = await app.db.sql`
      SELECT details FROM audit_events WHERE type = 'audit.report' AND actor_id = ${admin.id} AND details->>'report' = 'dataset-access' ORDER BY at DESC LIMIT 1`;
    expect(ev!.details).toMatchObject({ dataset: NOTES, identifiers: true });
  });

  it('refuses a person without catalog:read or audit:read, even the dataset’s owner', async () => {
    const r = await get(`/v1/datasets/${NOTES}/access`, scientist.token);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('forbidden');
  });

  it('an unknown dataset is 404', async () => {
    const r = await get('/v1/datasets/no.such/access', admin.token);
    expect(r.status).toBe(404);
  });
});
