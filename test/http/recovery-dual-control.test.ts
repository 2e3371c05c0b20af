/**
 * Account recovery is dual control ("no one alone", docs/security-model.md): a new
 * enrollment secret for someone who has enrolled lets whoever holds it
 * become that person, so one administrator can only propose it. The secret
 * exists only once a second administrator, with fresh MFA, approves; they
 * receive it, shown once. A person who never enrolled gets a new secret at
 * once, as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthContext } from '../../src/auth/context.ts';
import { requestEnrollment } from '../../src/changes/requestEnrollment.ts';
import { adminOf, enrollPerson, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let ada: Person;
let bea: Person;
let sam: Person;
beforeAll(async () => {
  app = await startTestApp();
  ada = await adminOf(app);
  bea = await personDirect(app, 'bea', [{ role: 'system-administrator' }]);
  await app.wired.catalog.createProject({ id: 'onc', name: 'Oncology' });
  sam = await personDirect(app, 'sam', [{ role: 'data-scientist', project: 'onc' }]);
});
afterAll(async () => app?.close());

const enrollments = async (id: string) => (await app.db.sql`SELECT count(*)::int AS n FROM enrollments WHERE principal_id = ${id}`)[0]!.n as number;
const events = async (changeId: string) =>
  (await app.db.sql`SELECT type, outcome, actor_id, details FROM audit_events WHERE details->>'change_id' = ${changeId} ORDER BY id`).map((e) => ({ type: e.type as string, actor: e.actor_id as string, reason: (e.details as { reason?: string }).reason ?? null }));

describe('recovering an enrolled person', () => {
  it('regression: one administrator alone gets no secret that takes over the account; the proposal waits', async () => {
    await loginAs(app, ada);
    const before = await enrollments(sam.id);
    const r = await app.call('POST', `/v1/principals/${sam.id}/enrollment`, { token: ada.token });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toMatchObject({ kind: 'principal.recover', target: sam.id, status: 'pending', reasons: ['account-recovery'] });
    expect(JSON.stringify(r.body)).not.toMatch(/cen_/);
    expect(r.headers.get('location')).toBe(`/v1/changes/${r.body.id}`);
    // No secret was made, and Sam still signs in as before.
    expect(await enrollments(sam.id)).toBe(before);
    await loginAs(app, sam);
  });

  it('is refused to its proposer, to a second administrator without fresh MFA, and applied by one with it, who receives the secret once', async () => {
    await loginAs(app, ada);
    const r = await app.call('POST', `/v1/principals/${sam.id}/enrollment`, { token: ada.token });
    expect(r.status).toBe(202);
    const id = r.body.id as string;

    // The proposer, with catalog:write and a fresh second factor: refused as their own change.
    const own = await app.call('POST', `/v1/changes/${id}/approve`, { token: ada.token, body: {} });
    expect(own.status).toBe(403);
    expect(own.body.code).toBe('forbidden');

    // The second administrator, second factor 11 minutes old: step-up required.
    await loginAs(app, bea);
    app.clock.advance(11 * 60_000);
    await loginAs(app, sam);
    const stale = await app.call('POST', `/v1/changes/${id}/approve`, { token: bea.token, body: {} });
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe('step_up_required');

    await loginAs(app, bea);
    const ok = await app.call('POST', `/v1/changes/${id}/approve`, { token: bea.token, body: {} });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.status).toBe('applied');
    expect(ok.body.enrollment.secret).toMatch(/^cen_/);
    // Shown once: reading the change later never shows it.
    const again = await app.call('GET', `/v1/changes/${id}`, { token: bea.token });
    expect(JSON.stringify(again.body)).not.toContain(ok.body.enrollment.secret);

    // The secret is a recovery: redeeming it replaces Sam's password.
    const rec = await app.call('POST', '/v1/auth/enroll', { body: { username: 'sam', enrollment_secret: ok.body.enrollment.secret, password: 'a brand new passphrase after recovery' } });
    expect(rec.status, JSON.stringify(rec.body)).toBe(200);

    // Every step audited (events of one change may share a timestamp: compared as a set).
    const key = (e: { type: string; actor: string; reason: string | null }) => `${e.type}|${e.actor}|${e.reason}`;
    expect((await events(id)).map(key).sort()).toEqual([
      { type: 'change.proposed', actor: ada.id, reason: null },
      { type: 'change.approval_refused', actor: ada.id, reason: 'own-change' },
      { type: 'change.approval_refused', actor: bea.id, reason: 'step-up-required' },
      { type: 'enrollment.issued', actor: bea.id, reason: null },
      { type: 'change.approved', actor: bea.id, reason: null },
      { type: 'change.applied', actor: bea.id, reason: null },
    ].map(key).sort());
  });

  it('the person recovered may not approve their own recovery', async () => {
    const cy = await personDirect(app, 'cy', [{ role: 'system-administrator' }]);
    await loginAs(app, ada);
    const r = await app.call('POST', `/v1/principals/${cy.id}/enrollment`, { token: ada.token });
    expect(r.status).toBe(202);
    await loginAs(app, cy);
    const self = await app.call('POST', `/v1/changes/${r.body.id}/approve`, { token: cy.token, body: {} });
    expect(self.status).toBe(403);
    expect(await events(r.body.id)).toContainEqual({ type: 'change.approval_refused', actor: cy.id, reason: 'own-permissions' });
  });
});

describe('a person who never enrolled', () => {
  it('gets a new secret at once (nothing to take over)', async () => {
    await loginAs(app, ada);
    const created = await app.call('POST', '/v1/principals', { token: ada.token, body: { kind: 'user', name: 'newcomer' } });
    expect(created.status).toBe(201);
    const r = await app.call('POST', `/v1/principals/${created.body.id}/enrollment`, { token: ada.token });
    expect(r.status).toBe(201);
    expect(r.body.secret).toMatch(/^cen_/);
  });
});

describe('a person who enrolls while an administrator asks for their new secret', () => {
  it('regression: the secret is not issued at once but held as the recovery it has become', async () => {
    await loginAs(app, ada);
    const created = await app.call('POST', '/v1/principals', { token: ada.token, body: { kind: 'user', name: 'racer' } });
    expect(created.status).toBe(201);
    const racer = created.body.id as string;
    const firstSecret = created.body.enrollment.secret as string;
    // The request decides "never enrolled" in one transaction; right after it commits, the person redeems their
    // first secret, before the new one is made in the next transaction.
    const deps = app.wired.app.changes;
    let raced = false;
    const store = {
      ...deps.store,
      begin: async <T>(fn: Parameters<typeof deps.store.begin<T>>[0]): Promise<T> => {
        const out = await deps.store.begin(fn);
        if (!raced) {
          raced = true;
          await enrollPerson(app, { id: racer, username: 'racer', secret: firstSecret });
        }
        return out;
      },
    };
    const before = await enrollments(racer);
    const auth = { principalId: ada.id } as unknown as AuthContext;
    const r = await requestEnrollment({ ...deps, store }, { auth, meta: { ip: '127.0.0.1', requestId: 'race' }, principalId: racer });
    expect(raced).toBe(true);
    expect(r.status).toBe('pending');
    if (r.status !== 'pending') return;
    expect(r.change).toMatchObject({ kind: 'principal.recover', target: racer, status: 'pending' });
    // No secret was made for the administrator alone.
    expect(await enrollments(racer)).toBe(before);
  });
});

