/**
 * Custos as an OAuth 2.0 authorization server seen by an off-the-shelf
 * client library (openid-client, not written here): RFC 8414 discovery on
 * the URL the server really listens on, client_secret_basic, the
 * client_credentials grant with RFC 9396 authorization_details and job
 * metadata; then the token is verified with jose against the JWKS fetched
 * from the discovered jwks_uri, checking the RFC 9068 header and every claim
 * (type and value), and its decision record. Introspection (RFC 7662) and
 * revocation (RFC 7009) go through the library too.
 */
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, oncologyWorld, sponsorCredentials, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let sponsorId: string;
let jobId: string;
let grantId: string;
let jobCreds: { client_id: string; client_secret: string };
let pepCreds: { client_id: string; client_secret: string };

const AUDIENCE = 'https://notes.example.org';
const DETAIL = { type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text', 'admit_date'], purpose: 'model-training' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** openid-client configuration by RFC 8414 discovery on the test server, over loopback http. */
async function discover(creds: { client_id: string; client_secret: string }): Promise<client.Configuration> {
  return client.discovery(new URL(app.url), creds.client_id, undefined, client.ClientSecretBasic(creds.client_secret), {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests],
  });
}

beforeAll(async () => {
  // The issuer must be the URL the server answers on, or discovery (rightly) refuses it.
  app = await startTestApp({}, { envFor: (port) => ({ CUSTOS_PUBLIC_URL: `http://127.0.0.1:${port}` }) });
  admin = await adminOf(app);
  const world = await oncologyWorld(app, admin, [{ id: 'onc-notes', audience: AUDIENCE }]);
  sponsorId = world.scientistId;
  pepCreds = { client_id: world.pep.clientId, client_secret: world.pep.secret };
  const c = app.wired.catalog;
  // The job holds no standing role: it works under a just-in-time grant (so the token carries grant_ids).
  const jobP = await c.createPrincipal({ kind: 'service', name: 'train-oc', sponsor_id: sponsorId, project_id: 'onc' });
  jobId = jobP.id;
  jobCreds = (await sponsorCredentials(app, world.scientist, jobP.id)) as typeof jobCreds;
  grantId = randomUUID();
  const now = app.clock.now().getTime();
  // Two hours: longer than the default lifetime, so the default (15 min) applies.
  await app.db.sql`
    INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at)
    VALUES (${grantId}, ${jobId}, 'data-scientist', 'onc', ${new Date(now - 60_000)}, ${new Date(now + 7_200_000)})`;
  await app.wired.invalidate();
});
afterAll(async () => app?.close());

describe('openid-client against Custos', () => {
  it('discovers the RFC 8414 metadata at the URL the server listens on', async () => {
    expect(app.config.publicUrl).toBe(app.url);
    const config = await discover(jobCreds);
    const m = config.serverMetadata();
    expect(m.issuer).toBe(app.url);
    expect(m.token_endpoint).toBe(`${app.url}/oauth2/token`);
    expect(m.jwks_uri).toBe(`${app.url}/.well-known/jwks.json`);
    expect(m.introspection_endpoint).toBe(`${app.url}/oauth2/introspect`);
    expect(m.revocation_endpoint).toBe(`${app.url}/oauth2/revoke`);
    expect(m.grant_types_supported).toEqual(['client_credentials']);
    expect(m.token_endpoint_auth_methods_supported).toContain('client_secret_basic');
    expect(m.authorization_details_types_supported).toEqual(['dataset_access']);
  });

  it('obtains a token (client_secret_basic, client_credentials, authorization_details, job_id) that jose verifies with every claim', async () => {
    const config = await discover(jobCreds);
    const t = await client.clientCredentialsGrant(config, { authorization_details: JSON.stringify([DETAIL]), job_id: 'job-oc-1' });
    expect(t.token_type).toBe('bearer'); // the library lower-cases "Bearer"
    expect(t.expires_in).toBe(900);
    expect(t.authorization_details).toEqual([DETAIL]);
    expect(typeof t.access_token).toBe('string');

    // The JWKS from the discovered jwks_uri, fetched as any resource server would.
    const jwksRes = await fetch(config.serverMetadata().jwks_uri!);
    expect(jwksRes.status).toBe(200);
    const jwks = (await jwksRes.json()) as jose.JSONWebKeySet;
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const k of jwks.keys) {
      expect(k).not.toHaveProperty('d'); // public parts only
      expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    }

    const { payload, protectedHeader } = await jose.jwtVerify(t.access_token, jose.createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      issuer: app.url,
      audience: AUDIENCE,
      typ: 'at+jwt',
      currentDate: app.clock.now(),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'authorization_details', 'purpose', 'decision_id'],
    });

    // Header (RFC 9068 §2.1): exactly alg, typ, kid — and the kid is in the JWKS.
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    expect(jwks.keys.map((k) => k.kid)).toContain(protectedHeader.kid);
    expect(protectedHeader.kid).toBe((await app.wired.keys.activeKey()).kid);

    // Claims: exactly these, with these types and values.
    expect(Object.keys(payload).sort()).toEqual(
      ['aud', 'authorization_details', 'client_id', 'decision_id', 'exp', 'grant_ids', 'iat', 'iss', 'job', 'jti', 'nbf', 'obligations', 'purpose', 'sponsor', 'sub'].sort(),
    );
    const nowSec = Math.floor(app.clock.now().getTime() / 1000);
    expect(payload.iss).toBe(app.config.publicUrl);
    expect(payload.sub).toBe(jobId);
    expect(payload.aud).toBe(AUDIENCE); // a single string
    expect(Number.isInteger(payload.iat)).toBe(true);
    expect(payload.iat).toBe(nowSec);
    expect(Number.isInteger(payload.nbf)).toBe(true);
    expect(payload.nbf).toBe(payload.iat);
    expect(Number.isInteger(payload.exp)).toBe(true);
    expect(payload.exp).toBe(payload.iat! + 900); // default 15 minutes; the grant lasts longer
    expect(payload.jti).toMatch(UUID);
    expect(payload.client_id).toBe(jobCreds.client_id);
    expect(payload.authorization_details).toEqual([DETAIL]);
    expect(payload.purpose).toBe('model-training');
    expect(payload.decision_id).toMatch(UUID);
    expect(payload.sponsor).toBe(sponsorId);
    expect(payload.grant_ids).toEqual([grantId]);
    expect(payload.obligations).toEqual([{ type: 'no-export' }, { type: 'review-within-24h' }]);
    expect(payload.job).toEqual({ job_id: 'job-oc-1' });

    // The decision was recorded with the token's jti (exactly once), expiry, job and grants.
    const rows = await app.db.sql`
      SELECT id, at, effect, principal_id, sponsor_id, dataset_id, purpose, granted_columns, grant_ids, token_jti, token_expires_at, job
      FROM decision_log WHERE token_jti = ${payload.jti!}`;
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.id).toBe(payload.decision_id);
    expect(row).toMatchObject({ effect: 'allow', principal_id: jobId, sponsor_id: sponsorId, dataset_id: 'onc-notes', purpose: 'model-training', job: { job_id: 'job-oc-1' } });
    expect(row.granted_columns).toEqual(DETAIL.columns);
    expect(row.grant_ids).toEqual([grantId]);
    expect(new Date(row.token_expires_at).getTime() / 1000).toBe(payload.exp);
    expect(Math.floor(new Date(row.at).getTime() / 1000)).toBe(payload.iat);
  });

  it('understands a deny: access_denied as an RFC 6749 error', async () => {
    const config = await discover(jobCreds);
    const err = await client
      .clientCredentialsGrant(config, { authorization_details: JSON.stringify([{ ...DETAIL, columns: ['note_text', 'patient_name'] }]), job_id: 'job-oc-2' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(client.ResponseBodyError);
    expect((err as client.ResponseBodyError).error).toBe('access_denied');
    expect((err as client.ResponseBodyError).status).toBe(400);
  });

  it('a wrong client secret is invalid_client', async () => {
    const config = await discover({ client_id: jobCreds.client_id, client_secret: `${jobCreds.client_secret}x` });
    const err = await client.clientCredentialsGrant(config, { authorization_details: JSON.stringify([DETAIL]), job_id: 'job-oc-3' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // RFC 6749 §5.2: 401 with the Basic challenge, which the library surfaces as such; the body still says invalid_client.
    expect(err).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = err as client.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause[0]!.scheme).toBe('basic');
    expect(((await challenge.response.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('introspects (enforcement point) and revokes (owning job) through the library', async () => {
    const job = await discover(jobCreds);
    const pep = await discover(pepCreds);
    const t = await client.clientCredentialsGrant(job, { authorization_details: JSON.stringify([DETAIL]), job_id: 'job-oc-4' });
    const live = await client.tokenIntrospection(pep, t.access_token);
    expect(live).toMatchObject({ active: true, sub: jobId, client_id: jobCreds.client_id, aud: AUDIENCE, iss: app.url, token_type: 'Bearer' });
    await client.tokenRevocation(job, t.access_token);
    const dead = await client.tokenIntrospection(pep, t.access_token);
    expect(dead).toEqual({ active: false });
  });
});
