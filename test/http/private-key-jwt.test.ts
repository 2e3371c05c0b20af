/**
 * private_key_jwt (RFC 7523): a training job registers its public key and
 * authenticates to the token endpoint with single-use signed assertions —
 * through an off-the-shelf client (openid-client) and by hand for the
 * attacks: replay, wrong audience, long-lived or expired assertions, another
 * client's name, a private key sent at registration.
 */
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, enrollExisting, form, loginAs, startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;
let jobId: string;
let clientId: string;
let keyPair: { publicKey: jose.CryptoKey; privateKey: jose.CryptoKey };
let publicJwk: jose.JWK;

const DETAILS = [{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text'], purpose: 'model-training' }];

async function assertion(claims: Partial<Record<string, unknown>> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(app.clock.now().getTime() / 1000);
  return new jose.SignJWT({ jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: publicJwk.kid!, ...header })
    .setIssuer((claims.iss as string) ?? clientId)
    .setSubject((claims.sub as string) ?? clientId)
    .setAudience((claims.aud as string) ?? `${app.config.publicUrl}/oauth2/token`)
    .setIssuedAt(now)
    .setExpirationTime((claims.exp as number) ?? now + 60)
    .sign(keyPair.privateKey);
}

async function tokenWith(assertionJwt: string) {
  return app.call('POST', '/oauth2/token', {
    body: form({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertionJwt,
      authorization_details: JSON.stringify(DETAILS),
      job_id: 'pkjwt-job',
    }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

beforeAll(async () => {
  // Many refused assertions below: keep them from tripping the (separately tested) lockout.
  app = await startTestApp({ CUSTOS_LOCKOUT_ACCOUNT_ATTEMPTS: '100' }, { envFor: (port) => ({ CUSTOS_PUBLIC_URL: `http://127.0.0.1:${port}` }) });
  await adminOf(app);
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  const sci = await c.createPrincipal({ kind: 'user', name: 'sci' });
  await c.assignRole({ principal_id: sci.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  await c.createDataset({ id: 'onc-notes', project_id: 'onc', owner_id: sci.id, purposes: ['model-training'], columns: [{ name: 'note_text', type: 'string' }] });
  const job = await c.createPrincipal({ kind: 'service', name: 'train-pk', sponsor_id: sci.id, project_id: 'onc' });
  jobId = job.id;
  await c.assignRole({ principal_id: job.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  keyPair = (await jose.generateKeyPair('ES256', { extractable: true }));
  publicJwk = { ...(await jose.exportJWK(keyPair.publicKey)), kid: 'job-key-1', alg: 'ES256', use: 'sig' };
  // The job's sponsor registers its keys, in their own session (nobody else can).
  const sponsor = await enrollExisting(app, sci.id, 'sci');
  await loginAs(app, sponsor);
  // A private key is refused at registration: only public parts are kept.
  const privateJwk = await jose.exportJWK(keyPair.privateKey);
  const refused = await app.call('POST', `/v1/me/services/${job.id}/credentials`, { token: sponsor.token, body: { jwks: { keys: [privateJwk] } } });
  expect(refused.status).toBe(400);
  const reg = await app.call('POST', `/v1/me/services/${job.id}/credentials`, { token: sponsor.token, body: { jwks: { keys: [publicJwk] } } });
  expect(reg.status).toBe(201);
  expect(reg.body.token_endpoint_auth_method).toBe('private_key_jwt');
  expect(reg.body).not.toHaveProperty('client_secret');
  clientId = reg.body.client_id;
});
afterAll(async () => app.close());

describe('private_key_jwt', () => {
  it('works with an off-the-shelf OAuth client (discovery + PrivateKeyJwt)', async () => {
    // The library stamps assertions with the real time: run the server's clock on it for this case.
    app.clock.set(Date.now());
    const config = await client.discovery(new URL(app.url), clientId, undefined, client.PrivateKeyJwt({ key: keyPair.privateKey, kid: publicJwk.kid }), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    expect(config.serverMetadata().token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    const tokens = await client.clientCredentialsGrant(config, { authorization_details: JSON.stringify(DETAILS), job_id: 'pkjwt-lib' });
    const jwks = (await app.call('GET', '/.well-known/jwks.json')).body;
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jose.createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      typ: 'at+jwt',
      issuer: app.config.publicUrl,
      audience: 'urn:custos:dataset:onc-notes',
      currentDate: app.clock.now(),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'authorization_details', 'purpose', 'decision_id'],
    });
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: jwks.keys[0].kid });
    expect(payload.sub).toBe(jobId);
    expect(payload.client_id).toBe(clientId);
    expect(payload.iat).toBe(Math.floor(app.clock.now().getTime() / 1000));
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.decision_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.purpose).toBe('model-training');
    expect(payload.authorization_details).toEqual(DETAILS);
    expect(payload.job).toEqual({ job_id: 'pkjwt-lib' });
    expect(typeof payload.sponsor).toBe('string');
    const [rec] = await app.db.sql`SELECT effect, token_jti FROM decision_log WHERE id = ${payload.decision_id as string}`;
    expect(rec).toEqual({ effect: 'allow', token_jti: payload.jti });
  });

  it('accepts an assertion once: a replay is refused', async () => {
    const a = await assertion();
    const first = await tokenWith(a);
    expect(first.status).toBe(200);
    const again = await tokenWith(a);
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
  });

  it('refuses wrong audience, expired, long-lived, jti-less, other-client and header-key assertions', async () => {
    const now = Math.floor(app.clock.now().getTime() / 1000);
    const cases: [string, Promise<string>][] = [
      ['wrong aud', assertion({ aud: 'https://elsewhere.example' })],
      ['expired', assertion({ exp: now - 60 })],
      ['lives too long', assertion({ exp: now + 3600 })],
      ['another client as iss/sub', assertion({ iss: 'svc_someoneelse', sub: 'svc_someoneelse' })],
      ['iss differs from sub', assertion({ sub: 'svc_someoneelse' })],
      ['jku header', assertion({}, { jku: 'http://127.0.0.1:9/jwks' })],
      ['unknown kid', assertion({}, { kid: 'not-registered' })],
    ];
    for (const [what, p] of cases) {
      const r = await tokenWith(await p);
      expect(r.status, what).toBe(401);
      expect(r.body.error, what).toBe('invalid_client');
      expect(r.body.access_token, what).toBeUndefined();
    }
    // Signed by a key the client never registered.
    const other = (await jose.generateKeyPair('ES256'));
    const forged = await new jose.SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: publicJwk.kid! })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(`${app.config.publicUrl}/oauth2/token`)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(other.privateKey);
    expect((await tokenWith(forged)).status).toBe(401);
    // Two methods at once are refused.
    const both = await app.call('POST', '/oauth2/token', {
      body: form({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(), authorization_details: JSON.stringify(DETAILS), job_id: 'j' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:x`).toString('base64')}` },
    });
    expect(both.status).toBe(400);
    expect(both.body.error).toBe('invalid_request');
  });
});
