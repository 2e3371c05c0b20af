/**
 * The token service end to end: a training job gets a dataset token with
 * client credentials and RFC 9396 authorization details; the token verifies
 * against the JWKS with an independent library (jose); introspection and
 * revocation behave per RFC 7662 / 7009; every token has its record.
 */
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, basicAuth, form, loginAs, oncologyWorld, sponsorCredentials, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let scientistId: string;
let job: { id: string; basic: string; clientId: string };
let pep: { basic: string };

const basic = basicAuth;

async function tokenRequest(fields: Record<string, string>, auth = job.basic) {
  return app.call('POST', '/oauth2/token', { body: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth } });
}

const detail = (columns: string[] | '*', dataset = 'onc-notes') => JSON.stringify([{ type: 'dataset_access', dataset, actions: ['read'], columns, purpose: 'model-training' }]);

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  const world = await oncologyWorld(app, admin, [{ id: 'onc-notes', audience: 'https://notes.example.org' }]);
  scientistId = world.scientistId;
  pep = world.pep;
  const c = app.wired.catalog;
  const jobP = await c.createPrincipal({ kind: 'service', name: 'train-42', sponsor_id: scientistId, project_id: 'onc' });
  await c.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  // The job's sponsor creates its credentials, in their own session.
  const jc = await sponsorCredentials(app, world.scientist, jobP.id);
  job = { id: jobP.id, basic: basic(jc.client_id, jc.client_secret!), clientId: jc.client_id };
});
afterAll(async () => app.close());

describe('token endpoint', () => {
  it('publishes RFC 8414 metadata', async () => {
    const m = await app.call('GET', '/.well-known/oauth-authorization-server');
    expect(m.body.issuer).toBe(app.config.publicUrl);
    expect(m.body.token_endpoint).toBe(`${app.config.publicUrl}/oauth2/token`);
    expect(m.body.grant_types_supported).toEqual(['client_credentials']);
    expect(m.body.authorization_details_types_supported).toEqual(['dataset_access']);
  });

  it('issues an RFC 9068 token for granted columns that verifies with jose against the JWKS', async () => {
    const r = await tokenRequest({ grant_type: 'client_credentials', authorization_details: detail(['note_text', 'admit_date']), job_id: 'job-1', image_digest: `sha256:${'a'.repeat(64)}` });
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe('Bearer');
    expect(r.body.expires_in).toBe(900);
    expect(r.body.authorization_details).toEqual([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text', 'admit_date'], purpose: 'model-training' }]);
    const jwks = (await app.call('GET', '/.well-known/jwks.json')).body;
    const { payload, protectedHeader } = await jose.jwtVerify(r.body.access_token, jose.createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      issuer: app.config.publicUrl,
      audience: 'https://notes.example.org',
      typ: 'at+jwt',
      currentDate: app.clock.now(),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'authorization_details', 'purpose', 'decision_id'],
    });
    expect(protectedHeader.kid).toBe(jwks.keys[0].kid);
    expect(payload.sub).toBe(job.id);
    expect(payload.client_id).toBe(job.clientId);
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.purpose).toBe('model-training');
    expect(payload.sponsor).toBe(scientistId);
    expect(payload.job).toEqual({ job_id: 'job-1', image_digest: `sha256:${'a'.repeat(64)}` });
    expect(payload.obligations).toEqual([{ type: 'no-export' }, { type: 'review-within-24h' }]);
    const [rec] = await app.db.sql`SELECT effect, token_jti, token_expires_at, job FROM decision_log WHERE id = ${payload.decision_id as string}`;
    expect(rec).toMatchObject({ effect: 'allow', token_jti: payload.jti });
    expect(new Date(rec!.token_expires_at).getTime() / 1000).toBe(payload.exp);
  });

  it('answers a deny with access_denied naming the decision and what was missing', async () => {
    const r = await tokenRequest({ grant_type: 'client_credentials', authorization_details: detail(['note_text', 'patient_name']), job_id: 'job-2' });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('access_denied');
    expect(r.body.error_description).toMatch(/^decision [0-9a-f-]{36}: .*patient_name not granted/);
    const id = /decision ([0-9a-f-]{36})/.exec(r.body.error_description)![1]!;
    const [rec] = await app.db.sql`SELECT effect, token_jti FROM decision_log WHERE id = ${id}`;
    expect(rec).toEqual({ effect: 'deny', token_jti: null });
  });

  it('refuses malformed details, other grants and bad clients the OAuth way', async () => {
    expect((await tokenRequest({ grant_type: 'client_credentials', authorization_details: '{not json', job_id: 'j' })).body.error).toBe('invalid_authorization_details');
    expect((await tokenRequest({ grant_type: 'client_credentials', authorization_details: JSON.stringify([{ type: 'other' }]), job_id: 'j' })).body.error).toBe('invalid_authorization_details');
    expect((await tokenRequest({ grant_type: 'password', authorization_details: detail(['note_text']), job_id: 'j' })).body.error).toBe('unsupported_grant_type');
    expect((await tokenRequest({ grant_type: 'client_credentials', authorization_details: detail(['note_text']) })).body.error).toBe('invalid_request');
    const bad = await tokenRequest({ grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'j' }, basic('svc_nobody', 'wrong'));
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('invalid_client');
    expect(bad.headers.get('www-authenticate')).toMatch(/^Basic/);
  });
});

describe('introspection and revocation', () => {
  const introspect = (token: string, auth = pep.basic) =>
    app.call('POST', '/oauth2/introspect', { body: form({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth } });

  it('says active for a live token, inactive after revocation and after the sponsor is disabled', async () => {
    const t = (await tokenRequest({ grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-3' })).body.access_token as string;
    const live = await introspect(t);
    expect(live.body).toMatchObject({ active: true, sub: job.id, client_id: job.clientId });
    // Only resource servers introspect: an RFC 6749 body, not a problem document.
    const refused = await introspect(t, job.basic);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: 'unauthorized_client', error_description: 'This client may not introspect tokens.' });

    const revoked = await app.call('POST', '/oauth2/revoke', { body: form({ token: t }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: job.basic } });
    expect(revoked.status).toBe(200);
    expect((await introspect(t)).body).toEqual({ active: false });

    const t2 = (await tokenRequest({ grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-4' })).body.access_token as string;
    expect((await introspect(t2)).body.active).toBe(true);
    await loginAs(app, admin);
    expect((await app.call('PATCH', `/v1/principals/${scientistId}`, { token: admin.token, body: { status: 'disabled' } })).status).toBe(200);
    expect((await introspect(t2)).body).toEqual({ active: false });
    expect((await app.call('PATCH', `/v1/principals/${scientistId}`, { token: admin.token, body: { status: 'active' } })).status).toBe(200);
    expect((await introspect(t2)).body.active).toBe(true);
  });

  it('says inactive once the token has expired, and for tampered or foreign tokens', async () => {
    const t = (await tokenRequest({ grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-5' })).body.access_token as string;
    const [h, p, s] = t.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: scientistId })).toString('base64url')}.${s}`;
    expect((await introspect(forged)).body).toEqual({ active: false });
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    expect((await introspect(none)).body).toEqual({ active: false });
    app.clock.advance(901_000);
    expect((await introspect(t)).body).toEqual({ active: false });
  });
});
