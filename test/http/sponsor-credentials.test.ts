/**
 * A service's credentials reach only its sponsor ("no one alone",
 * docs/security-model.md), over real HTTP: an administrator who creates a service for a
 * data scientist, with catalog:write and a fresh second factor, can take
 * neither a generated secret nor register a key of their own; the sponsor,
 * in their own session, can, and the job then gets a token for PHI the
 * sponsor can read. A change of sponsor revokes the credentials with it.
 */
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, basicAuth, form, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let sci: Person;
let other: Person;
let svcId: string;

const DETAILS = JSON.stringify([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text'], purpose: 'model-training' }]);
const tokenRequest = (basic: string) =>
  app.call('POST', '/oauth2/token', {
    body: form({ grant_type: 'client_credentials', authorization_details: DETAILS, job_id: 'job-sponsor' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
  });
const credentialRows = async (id: string) => Number((await app.db.sql`SELECT count(*)::int AS n FROM service_credentials WHERE principal_id = ${id}`)[0]!.n);

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  sci = await personDirect(app, 'sci', [{ role: 'data-scientist', project: 'onc' }]);
  other = await personDirect(app, 'other-sci', [{ role: 'data-scientist', project: 'onc' }]);
  await c.createDataset({
    id: 'onc-notes',
    project_id: 'onc',
    owner_id: sci.id,
    purposes: ['model-training'],
    columns: [
      { name: 'patient_name', type: 'string', category: 'names' },
      { name: 'note_text', type: 'string' },
    ],
  });
  // The administrator creates a training job for the scientist, over HTTP.
  await loginAs(app, admin);
  const svc = await app.call('POST', '/v1/principals', { token: admin.token, body: { kind: 'service', name: 'train-onc', sponsor_id: sci.id, project_id: 'onc' } });
  expect(svc.status, JSON.stringify(svc.body)).toBe(201);
  svcId = svc.body.id;
  await c.assignRole({ principal_id: svcId, role_id: 'data-scientist', project_id: 'onc' }, null);
});
afterAll(async () => app?.close());

describe("a service's credentials reach only its sponsor", () => {
  it('refuses the administrator who created the service for someone else (secret or registered key), from the sponsor check, and audits it', async () => {
    await loginAs(app, admin);
    // The administrator passes every other check: catalog:write and a fresh second factor carry another sensitive change now.
    const control = await app.call('PATCH', `/v1/principals/${svcId}`, { token: admin.token, body: { display_name: 'Oncology training job' } });
    expect(control.status, JSON.stringify(control.body)).toBe(200);

    const secret = await app.call('POST', `/v1/principals/${svcId}/credentials`, { token: admin.token });
    expect(secret.status, JSON.stringify(secret.body)).toBe(403);
    expect(secret.body.code).toBe('not_sponsor');
    expect(secret.body).not.toHaveProperty('client_secret');

    // Registering a public key whose private key the administrator holds is the same attack.
    const { publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'admin-key', alg: 'ES256', use: 'sig' };
    const key = await app.call('POST', `/v1/principals/${svcId}/credentials`, { token: admin.token, body: { jwks: { keys: [jwk] } } });
    expect(key.status).toBe(403);
    expect(key.body.code).toBe('not_sponsor');

    // The sponsor's own route refuses the administrator too.
    const mine = await app.call('POST', `/v1/me/services/${svcId}/credentials`, { token: admin.token });
    expect(mine.status).toBe(403);
    expect(mine.body.code).toBe('not_sponsor');

    expect(await credentialRows(svcId)).toBe(0);
    const events = await app.db.sql`
      SELECT outcome, actor_id, details FROM audit_events WHERE type = 'client_credential.created' AND subject_id = ${svcId} ORDER BY seq`;
    expect(events).toHaveLength(3);
    for (const e of events) {
      expect(e.outcome).toBe('failure');
      expect(e.actor_id).toBe(admin.id);
      expect(e.details.reason).toBe('not the sponsor');
    }
    expect(events.map((e) => e.details.method)).toEqual(['client_secret_basic', 'private_key_jwt', 'client_secret_basic']);
  });

  it('refuses another person in their own fresh session: they do not sponsor it', async () => {
    await loginAs(app, other);
    const r = await app.call('POST', `/v1/me/services/${svcId}/credentials`, { token: other.token });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('not_sponsor');
    const list = await app.call('GET', `/v1/me/services/${svcId}/credentials`, { token: other.token });
    expect(list.status).toBe(403);
  });

  it('needs the sponsor to have proven a second factor recently', async () => {
    await loginAs(app, sci);
    app.clock.advance((app.config.stepUpSeconds + 1) * 1000);
    const r = await app.call('POST', `/v1/me/services/${svcId}/credentials`, { token: sci.token });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('step_up_required');
    expect(await credentialRows(svcId)).toBe(0);
  });

  it('delivers the credential to the sponsor, whose job then gets a token for PHI the sponsor can read', async () => {
    await loginAs(app, sci);
    const r = await app.call('POST', `/v1/me/services/${svcId}/credentials`, { token: sci.token });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.client_secret).toMatch(/^cs_/);
    const t = await tokenRequest(basicAuth(r.body.client_id, r.body.client_secret));
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    expect(t.body.authorization_details[0].columns).toEqual(['note_text']);
    const services = await app.call('GET', '/v1/me/services', { token: sci.token });
    expect(services.body.items.map((p: { id: string }) => p.id)).toEqual([svcId]);
    expect((await app.call('GET', '/v1/me/services', { token: admin.token })).body.items).toEqual([]);
    const list = await app.call('GET', `/v1/me/services/${svcId}/credentials`, { token: sci.token });
    expect(list.body.items.map((i: { client_id: string }) => i.client_id)).toEqual([r.body.client_id]);
    const [ev] = await app.db.sql`SELECT actor_id FROM audit_events WHERE type = 'client_credential.created' AND outcome = 'success' AND subject_id = ${svcId}`;
    expect(ev!.actor_id).toBe(sci.id);
  });

  it("the sponsor's routes list and revoke for the sponsor alone: anyone else is refused and the credential stays live", async () => {
    await loginAs(app, sci);
    const c = await app.call('POST', `/v1/me/services/${svcId}/credentials`, { token: sci.token });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const basic = basicAuth(c.body.client_id, c.body.client_secret);
    const revoke = (who: Person) => app.call('DELETE', `/v1/me/services/${svcId}/credentials/${c.body.credential_id}`, { token: who.token });
    // The administrator passes every other check (catalog:write, a fresh second factor); only the sponsor check refuses.
    for (const who of [other, admin]) {
      await loginAs(app, who);
      const r = await revoke(who);
      expect(r.status, JSON.stringify(r.body)).toBe(403);
      expect(r.body.code).toBe('not_sponsor');
      expect((await app.call('GET', `/v1/me/services/${svcId}/credentials`, { token: who.token })).body.code).toBe('not_sponsor');
    }
    expect((await tokenRequest(basic)).status).toBe(200);
    // A person is not a service: neither list nor revoke applies to one.
    expect((await app.call('GET', `/v1/me/services/${sci.id}/credentials`, { token: sci.token })).status).toBe(400);
    await loginAs(app, sci);
    expect((await app.call('DELETE', `/v1/me/services/${sci.id}/credentials/${c.body.credential_id}`, { token: sci.token })).status).toBe(400);
    expect((await revoke(sci)).status).toBe(204);
    expect((await tokenRequest(basic)).status).toBe(401);
    const events = await app.db.sql`SELECT actor_id FROM audit_events WHERE type = 'client_credential.revoked' AND details->>'credential_id' = ${c.body.credential_id}`;
    expect(events.map((e) => e.actor_id)).toEqual([sci.id]);
  });

  it("a change of sponsor revokes the service's credentials in the same change", async () => {
    await loginAs(app, sci);
    const r = await app.call('POST', `/v1/me/services/${svcId}/credentials`, { token: sci.token });
    const basic = basicAuth(r.body.client_id, r.body.client_secret);
    expect((await tokenRequest(basic)).status).toBe(200);
    await loginAs(app, admin);
    const moved = await app.call('PATCH', `/v1/principals/${svcId}`, { token: admin.token, body: { sponsor_id: other.id } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.sponsor_id).toBe(other.id);
    // Whoever held the old secret does not get the new sponsor's reach.
    const after = await tokenRequest(basic);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('invalid_client');
    const [live] = await app.db.sql`SELECT count(*)::int AS n FROM service_credentials WHERE principal_id = ${svcId} AND revoked_at IS NULL`;
    expect(live!.n).toBe(0);
    const [ev] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'catalog.principal.updated' AND subject_id = ${svcId} AND details->>'credentials_revoked' IS NOT NULL`;
    expect(ev!.details.credentials_revoked).toBe(2);
    expect(ev!.details.before.sponsor_id).toBe(sci.id);
    // The old sponsor is now refused; the new one may create credentials.
    await loginAs(app, sci);
    expect((await app.call('POST', `/v1/me/services/${svcId}/credentials`, { token: sci.token })).body.code).toBe('not_sponsor');
  });
});
