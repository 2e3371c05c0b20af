/**
 * Dataset tokens name one server, and servers learn only about their own
 * tokens, over real HTTP against a real PostgreSQL:
 *
 * - two datasets cannot share a token audience (configured or the default
 *   urn:custos:dataset:<id>): creating or updating one that would → 409;
 * - a resource server introspects (RFC 7662 §4) and revokes only tokens for
 *   the datasets it serves; one with no list sees nothing (fail closed);
 * - the list is set by an administrator with a fresh second factor, and the
 *   change commits with its audit event or not at all, and another replica
 *   follows within a second.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/client.ts';
import { createRequestListener } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';
import { wire } from '../../src/wire.ts';
import { adminOf, basicAuth, form, loginAs, oncologyWorld, personWithRoles, sponsorCredentials, startTestApp, TEST_KEY, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let sciId: string;
let job: { basic: string };
/** Resource servers: one per dataset, one serving both (the world's), one with no list. */
const servers: Record<'notes' | 'labs' | 'both' | 'legacy', { id: string; basic: string }> = {} as never;

const NOTES = { id: 'onc-notes', audience: 'https://notes.example.org' };
const LABS = { id: 'onc-labs', audience: 'https://labs.example.org' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const COLUMNS = [
  { name: 'note_text', type: 'string' },
  { name: 'admit_date', type: 'date', category: 'dates' },
];

const detail = (dataset: string) => JSON.stringify([{ type: 'dataset_access', dataset, actions: ['read'], columns: ['note_text'], purpose: 'model-training' }]);

async function issue(dataset: string): Promise<string> {
  const r = await app.call('POST', '/oauth2/token', { body: form({ grant_type: 'client_credentials', authorization_details: detail(dataset), job_id: 'job-rs' }), headers: { ...FORM, authorization: job.basic } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.access_token;
}

async function introspect(token: string, server: { basic: string }): Promise<Record<string, unknown>> {
  const r = await app.call('POST', '/oauth2/introspect', { body: form({ token }), headers: { ...FORM, authorization: server.basic } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

const setServed = (serverId: string, datasets: string[], token = admin.token) => app.call('PUT', `/v1/principals/${serverId}/served-datasets`, { token, body: { datasets } });
const served = async (serverId: string) => (await app.call('GET', `/v1/principals/${serverId}/served-datasets`, { token: admin.token })).body.datasets;

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  const world = await oncologyWorld(app, admin, [NOTES, LABS]);
  sciId = world.scientistId;
  servers.both = { id: world.pep.id, basic: world.pep.basic };
  const c = app.wired.catalog;
  for (const name of ['notes', 'labs', 'legacy'] as const) {
    const p = await c.createPrincipal({ kind: 'service', name: `rs-${name}`, sponsor_id: admin.id, project_id: 'onc' });
    await c.assignRole({ principal_id: p.id, role_id: 'enforcement-point', project_id: null }, null);
    const cr = await app.call('POST', `/v1/principals/${p.id}/credentials`, { token: admin.token });
    expect(cr.status).toBe(201);
    servers[name] = { id: p.id, basic: basicAuth(cr.body.client_id, cr.body.client_secret) };
  }
  expect((await setServed(servers.notes.id, [NOTES.id])).status).toBe(200);
  expect((await setServed(servers.labs.id, [LABS.id])).status).toBe(200);
  const jobP = await c.createPrincipal({ kind: 'service', name: 'train-rs', sponsor_id: sciId, project_id: 'onc' });
  await c.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  // Only the sponsor receives a service's credentials.
  const jc = await sponsorCredentials(app, world.scientist, jobP.id);
  job = { basic: basicAuth(jc.client_id, jc.client_secret!) };
});
afterAll(async () => app?.close());

describe('token audiences are unique', () => {
  const dataset = (id: string, audience?: string) => ({ id, project_id: 'onc', owner_id: sciId, purposes: ['model-training'], columns: COLUMNS, ...(audience ? { audience } : {}) });

  it("creating a dataset with another dataset's audience is 409, and nothing is written (a fresh audience is fine)", async () => {
    await loginAs(app, admin);
    const r = await app.call('POST', '/v1/datasets', { token: admin.token, body: dataset('onc-notes-copy', NOTES.audience) });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body).toMatchObject({ code: 'conflict', detail: expect.stringMatching(/token audience is already used by another dataset/) });
    expect((await app.call('GET', '/v1/datasets/onc-notes-copy', { token: admin.token })).status).toBe(404);
    expect((await app.call('POST', '/v1/datasets', { token: admin.token, body: dataset('onc-notes-copy', 'https://copy.example.org') })).status).toBe(201);
  });

  it("updating a dataset to another dataset's audience is 409, and the audience stays", async () => {
    await loginAs(app, admin);
    const r = await app.call('PATCH', '/v1/datasets/onc-notes-copy', { token: admin.token, body: { audience: LABS.audience } });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.detail).toMatch(/token audience is already used by another dataset/);
    expect((await app.call('GET', '/v1/datasets/onc-notes-copy', { token: admin.token })).body.audience).toBe('https://copy.example.org');
    expect((await app.call('PATCH', '/v1/datasets/onc-notes-copy', { token: admin.token, body: { audience: 'https://copy2.example.org' } })).status).toBe(200);
  });

  it('the default audience (urn:custos:dataset:<id>) counts: a dataset cannot take it from another, nor be created under it', async () => {
    await loginAs(app, admin);
    expect((await app.call('POST', '/v1/datasets', { token: admin.token, body: dataset('onc-a', 'urn:custos:dataset:onc-b') })).status).toBe(201);
    const r = await app.call('POST', '/v1/datasets', { token: admin.token, body: dataset('onc-b') });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body.detail).toMatch(/token audience/);
    expect((await app.call('POST', '/v1/datasets', { token: admin.token, body: dataset('onc-c') })).status).toBe(201);
    const taken = await app.call('PATCH', '/v1/datasets/onc-a', { token: admin.token, body: { audience: 'urn:custos:dataset:onc-c' } });
    expect(taken.status, JSON.stringify(taken.body)).toBe(409);
  });
});

describe('resource servers see only their datasets', () => {
  it('introspection: active for a server of the dataset, {"active":false} for any other server and for one with no list (RFC 7662 §4)', async () => {
    const tNotes = await issue(NOTES.id);
    const tLabs = await issue(LABS.id);
    expect(jose.decodeJwt(tNotes).aud).toBe(NOTES.audience);
    expect(await introspect(tNotes, servers.notes)).toMatchObject({ active: true, aud: NOTES.audience });
    expect(await introspect(tLabs, servers.labs)).toMatchObject({ active: true, aud: LABS.audience });
    expect(await introspect(tNotes, servers.both)).toMatchObject({ active: true });
    expect(await introspect(tLabs, servers.both)).toMatchObject({ active: true });
    expect(await introspect(tNotes, servers.labs)).toEqual({ active: false });
    expect(await introspect(tLabs, servers.notes)).toEqual({ active: false });
    // No list: fail closed.
    expect(await served(servers.legacy.id)).toEqual([]);
    expect(await introspect(tNotes, servers.legacy)).toEqual({ active: false });
    expect(await introspect(tLabs, servers.legacy)).toEqual({ active: false });
  });

  it("revocation: another dataset's server cannot revoke a token (200, nothing happens); its own server can, once, audited", async () => {
    const t = await issue(NOTES.id);
    const jti = jose.decodeJwt(t).jti!;
    const events = async () => (await app.db.sql`SELECT actor_id FROM audit_events WHERE type = 'token.revoked' AND details->>'jti' = ${jti}`).map((r) => r.actor_id);
    for (const other of [servers.labs, servers.legacy]) {
      const r = await app.call('POST', '/oauth2/revoke', { body: form({ token: t }), headers: { ...FORM, authorization: other.basic } });
      expect(r.status).toBe(200);
    }
    expect(await introspect(t, servers.notes)).toMatchObject({ active: true });
    expect(await events()).toEqual([]);
    for (let i = 0; i < 2; i++) {
      const r = await app.call('POST', '/oauth2/revoke', { body: form({ token: t }), headers: { ...FORM, authorization: servers.notes.basic } });
      expect(r.status).toBe(200);
    }
    expect(await introspect(t, servers.notes)).toEqual({ active: false });
    expect(await events()).toEqual([servers.notes.id]);
  });
});

describe('setting the datasets a resource server serves', () => {
  it('needs catalog:write and a fresh second factor; nothing changes when refused', async () => {
    const reviewer = await personWithRoles(app, admin, 'rs-reviewer', ['security-reviewer']);
    const denied = await setServed(servers.legacy.id, [NOTES.id], reviewer.token);
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('forbidden');
    await loginAs(app, admin);
    app.clock.advance(11 * 60_000);
    const stale = await setServed(servers.legacy.id, [NOTES.id]);
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe('step_up_required');
    expect(await served(servers.legacy.id)).toEqual([]);
  });

  it('refuses a person, an unknown dataset and a repeated one', async () => {
    await loginAs(app, admin);
    expect((await setServed(admin.id, [NOTES.id])).status).toBe(400);
    const unknown = await setServed(servers.legacy.id, [NOTES.id, 'no-such-dataset']);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ path: 'body.datasets.1', message: 'unknown dataset' }]);
    expect((await setServed(servers.legacy.id, [NOTES.id, NOTES.id])).status).toBe(400);
    expect(await served(servers.legacy.id)).toEqual([]);
  });

  it('takes effect at once, and commits with its audit event (before and after) or not at all', async () => {
    const t = await issue(NOTES.id);
    expect(await introspect(t, servers.legacy)).toEqual({ active: false });
    await loginAs(app, admin);
    const set = await setServed(servers.legacy.id, [NOTES.id]);
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toEqual({ principal_id: servers.legacy.id, datasets: [NOTES.id], before: [] });
    expect(await introspect(t, servers.legacy)).toMatchObject({ active: true });
    const [ev] = await app.db.sql`SELECT actor_id, subject_id, details FROM audit_events WHERE type = 'resource_server.datasets_set' AND subject_id = ${servers.legacy.id}`;
    expect(ev).toMatchObject({ actor_id: admin.id, subject_id: servers.legacy.id, details: { before: [], after: [NOTES.id] } });

    // The audit write fails: the change does not commit either.
    const sql = app.db.sql;
    await sql.unsafe(`CREATE OR REPLACE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'permission denied for table audit_events' USING ERRCODE = '42501'; END $$`);
    await sql.unsafe('CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()');
    try {
      const failed = await setServed(servers.legacy.id, []);
      expect(failed.status).toBeGreaterThanOrEqual(500);
    } finally {
      await sql.unsafe('DROP TRIGGER IF EXISTS test_refuse_audit ON audit_events');
      await sql.unsafe('DROP FUNCTION IF EXISTS test_refuse_audit()');
    }
    expect(await served(servers.legacy.id)).toEqual([NOTES.id]);
    expect(await introspect(t, servers.legacy)).toMatchObject({ active: true });

    // Emptied: the server sees nothing again, at once.
    const emptied = await setServed(servers.legacy.id, []);
    expect(emptied.body).toEqual({ principal_id: servers.legacy.id, datasets: [], before: [NOTES.id] });
    expect(await introspect(t, servers.legacy)).toEqual({ active: false });
  });
});

describe('another replica', () => {
  it('follows a change of the list within a second (change notification; cached client contexts dropped)', async () => {
    // Replica B: its own pool, caches and listener on the same database, wired as main.ts wires it.
    const sqlB = createSql({ url: app.db.url, max: 3, role: 'custos_app' });
    const wiredB = wire({ config: app.config, sql: sqlB, log: createLogger({ level: 'silent' }), encryptionKey: TEST_KEY, clock: app.clock });
    expect((await wiredB.policy.reload()).ok).toBe(true);
    await wiredB.keys.init();
    await wiredB.catalogSync.start();
    const unlisten = () => wiredB.catalogSync.stop();
    const serverB = createServer(createRequestListener(wiredB.app)).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => serverB.once('listening', () => resolve()));
    const urlB = `http://127.0.0.1:${(serverB.address() as AddressInfo).port}`;
    const activeAtB = async (token: string) => {
      const r = await fetch(`${urlB}/oauth2/introspect`, { method: 'POST', headers: { ...FORM, authorization: servers.legacy.basic }, body: form({ token }) });
      expect(r.status).toBe(200);
      return ((await r.json()) as { active: boolean }).active;
    };
    /** Polls replica B (real time) until it says `want`; returns the milliseconds it took. */
    const until = async (token: string, want: boolean) => {
      const start = Date.now();
      while (Date.now() - start <= 1_000) {
        if ((await activeAtB(token)) === want) return Date.now() - start;
        await new Promise((r) => setTimeout(r, 20));
      }
      return Infinity;
    };
    try {
      const t = await issue(NOTES.id);
      await loginAs(app, admin);
      expect((await setServed(servers.legacy.id, [])).status).toBe(200);
      expect(await until(t, false)).toBeLessThanOrEqual(1_000);
      expect((await setServed(servers.legacy.id, [NOTES.id])).status).toBe(200);
      expect(await until(t, true)).toBeLessThanOrEqual(1_000);
      expect((await setServed(servers.legacy.id, [LABS.id])).status).toBe(200);
      expect(await until(t, false)).toBeLessThanOrEqual(1_000);
    } finally {
      serverB.closeAllConnections();
      await new Promise<void>((resolve) => serverB.close(() => resolve()));
      await unlisten().catch(() => {});
      await sqlB.end({ timeout: 5 });
    }
  });
});
