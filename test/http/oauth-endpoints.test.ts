/**
 * The OAuth endpoints answer the OAuth way, whatever goes wrong (RFC 6749
 * §5.2, RFC 7662, RFC 7009), over real HTTP against a real PostgreSQL:
 *
 * - the token endpoint: oversized, over-long and unreadable forms get RFC
 *   6749 bodies (413/400), never problem documents, on the lean hot lane and
 *   the express lane alike; the client authenticates before any field is
 *   checked, and an unauthenticated caller learns no field names;
 * - a `client_id` that contradicts the authenticated client is invalid_client
 *   (RFC 6749 §2.3.1), and a column named twice in authorization_details is
 *   invalid_authorization_details (RFC 9396 §5);
 * - introspection answers any malformed token from a resource server with
 *   200 `{active: false}` (also one of 20,001 characters); revocation answers
 *   any malformed token with 200 (RFC 7009 §2.2);
 * - a token response is marked not to be stored (Cache-Control, Pragma);
 * - a revocation commits with its audit event or not at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, basicAuth, form, oncologyWorld, startTestApp, type Person, type TestApp, sponsorCredentials } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let job: { id: string; basic: string; clientId: string; secret: string };
let pep: { basic: string; clientId: string };

const NOTES = { id: 'onc-notes', audience: 'https://notes.example.org' };
const FORM = 'application/x-www-form-urlencoded';
/** The hot lane serves the exact path; a query string takes the express lane. */
const LANES = [
  ['hot lane', '/oauth2/token'],
  ['express lane', '/oauth2/token?lane=express'],
] as const;

const detail = (columns: string[]) => JSON.stringify([{ type: 'dataset_access', dataset: NOTES.id, actions: ['read'], columns, purpose: 'model-training' }]);
const good = (extra: Record<string, string> = {}) => ({ grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-oauth', ...extra });

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return app.call('POST', path, { body, headers: { 'content-type': FORM, ...headers } });
}

/** An RFC 6749 §5.2 error body and nothing else: no problem document, no field paths. */
function expectOAuthError(r: { status: number; body: any; headers: Headers }, status: number, error: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(r.body).sort()).toEqual(['error', 'error_description']);
  expect(r.body.error).toBe(error);
  expect(r.body).not.toHaveProperty('access_token');
}

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  const world = await oncologyWorld(app, admin, [NOTES]);
  pep = world.pep;
  const c = app.wired.catalog;
  const jobP = await c.createPrincipal({ kind: 'service', name: 'train-oauth', sponsor_id: world.scientistId, project_id: 'onc' });
  await c.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  // Only the sponsor receives a service's credentials.
  const jc = await sponsorCredentials(app, world.scientist, jobP.id);
  job = { id: jobP.id, basic: basicAuth(jc.client_id, jc.client_secret!), clientId: jc.client_id, secret: jc.client_secret! };
});
afterAll(async () => app?.close());

describe('client authentication', () => {
  it('a client_id form field naming another client than the Basic credentials is invalid_client (the same request without it, or with the right one, gets a token)', async () => {
    expect((await post('/oauth2/token', form(good()), { authorization: job.basic })).status).toBe(200);
    expect((await post('/oauth2/token', form(good({ client_id: job.clientId })), { authorization: job.basic })).status).toBe(200);
    for (const [, path] of LANES) {
      const r = await post(path, form(good({ client_id: pep.clientId })), { authorization: job.basic });
      expectOAuthError(r, 401, 'invalid_client');
      expect(r.headers.get('www-authenticate')).toMatch(/^Basic /);
    }
    // The same rule on introspection and revocation: the resource server cannot claim to be the job.
    const t = (await post('/oauth2/token', form(good()), { authorization: job.basic })).body.access_token as string;
    expect((await post('/oauth2/introspect', form({ token: t }), { authorization: pep.basic })).body.active).toBe(true);
    expectOAuthError(await post('/oauth2/introspect', form({ token: t, client_id: job.clientId }), { authorization: pep.basic }), 401, 'invalid_client');
    expectOAuthError(await post('/oauth2/revoke', form({ token: t, client_id: pep.clientId }), { authorization: job.basic }), 401, 'invalid_client');
    expect((await post('/oauth2/introspect', form({ token: t }), { authorization: pep.basic })).body.active).toBe(true);
  });

  it('the client authenticates before any field is checked: a bad client with bad fields is invalid_client, and learns no field names', async () => {
    const bad = basicAuth(job.clientId, 'not-the-secret');
    const fields = `${form({ ...good(), job_id: 'j'.repeat(5000) })}&grant_type=again`;
    for (const [, path] of LANES) {
      for (const auth of [{ authorization: bad }, {} as Record<string, string>]) {
        const r = await post(path, fields, auth);
        expectOAuthError(r, 401, 'invalid_client');
        expect(JSON.stringify(r.body)).not.toMatch(/job_id|grant_type|body\./);
      }
    }
    // Once authenticated, the caller is told which field is wrong.
    const named = await post('/oauth2/token', form({ ...good(), job_id: 'j'.repeat(5000) }), { authorization: job.basic });
    expectOAuthError(named, 400, 'invalid_request');
    expect(named.body.error_description).toMatch(/job_id/);
    expectOAuthError(await post('/oauth2/token', fields, { authorization: job.basic }), 400, 'invalid_request');
  });
});

describe('the token response', () => {
  it('is not to be stored or cached (RFC 6749 §5.1: Cache-Control no-store, Pragma no-cache), on both lanes', async () => {
    for (const [lane, path] of LANES) {
      const r = await post(path, form(good()), { authorization: job.basic });
      expect(r.status, lane).toBe(200);
      expect(r.headers.get('cache-control'), lane).toBe('no-store');
      expect(r.headers.get('pragma'), lane).toBe('no-cache');
    }
  });
});

describe('authorization_details', () => {
  it('a column named twice is invalid_authorization_details (each column once gets a token)', async () => {
    expect((await post('/oauth2/token', form(good({ authorization_details: detail(['note_text', 'admit_date']) })), { authorization: job.basic })).status).toBe(200);
    const r = await post('/oauth2/token', form(good({ authorization_details: detail(['note_text', 'admit_date', 'note_text']) })), { authorization: job.basic });
    expectOAuthError(r, 400, 'invalid_authorization_details');
    expect(r.body.error_description).toBe('authorization_details[0].columns.2: this column is already listed');
  });
});

describe('the token endpoint answers every malformed request the RFC 6749 way, on both lanes', () => {
  it('a body over the size limit: 413 invalid_request, not a problem document', async () => {
    for (const [lane, path] of LANES) {
      const r = await post(path, form(good({ authorization_details: 'a'.repeat(200 * 1024) })), { authorization: job.basic });
      expectOAuthError(r, 413, 'invalid_request');
      expect(r.body.error_description, lane).toBe('The request body is too large.');
    }
  });

  it('more form parameters than the parser takes: 413 invalid_request (it was a 500)', async () => {
    const many = Array.from({ length: 60 }, (_, i) => `p${i}=x`).join('&');
    for (const [, path] of LANES) expectOAuthError(await post(path, `${form(good())}&${many}`, { authorization: job.basic }), 413, 'invalid_request');
  });

  it('a forbidden key (constructor, prototype): 400 invalid_request without field names', async () => {
    for (const [, path] of LANES) {
      for (const extra of ['constructor=x', 'prototype=x']) {
        const r = await post(path, `${form(good())}&${extra}`, { authorization: job.basic });
        expectOAuthError(r, 400, 'invalid_request');
        expect(JSON.stringify(r.body)).not.toMatch(/proto|constructor|body\./);
      }
    }
  });

  it('a body that is not a form: the client still authenticates first, then invalid_request', async () => {
    for (const [, path] of LANES) {
      expectOAuthError(await app.call('POST', path, { body: { grant_type: 'client_credentials' } }), 401, 'invalid_client');
      expectOAuthError(await app.call('POST', path, { body: { grant_type: 'client_credentials' }, headers: { authorization: job.basic } }), 400, 'invalid_request');
    }
  });
});

describe('introspection and revocation of malformed tokens', () => {
  const huge = 'x'.repeat(20_001);
  const junk = ['', huge, `${'eyJ'.repeat(7000)}.x.y`, 'a.b.c', '\u00e9\u0000\ud800'];

  it('a resource server asking about any malformed token gets 200 {"active":false} (a 20,001-character one too)', async () => {
    for (const token of junk) {
      const r = await post('/oauth2/introspect', form({ token }), { authorization: pep.basic });
      expect(r.status, `${token.length} chars: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body).toEqual({ active: false });
    }
    // Unauthenticated: invalid_client, however long the token.
    expectOAuthError(await post('/oauth2/introspect', form({ token: huge })), 401, 'invalid_client');
    // No token at all, or twice: the request is malformed.
    expectOAuthError(await post('/oauth2/introspect', form({ token_type_hint: 'access_token' }), { authorization: pep.basic }), 400, 'invalid_request');
    expectOAuthError(await post('/oauth2/introspect', 'token=a&token=b', { authorization: pep.basic }), 400, 'invalid_request');
    expectOAuthError(await post('/oauth2/introspect', `token=${'a'.repeat(200 * 1024)}`, { authorization: pep.basic }), 413, 'invalid_request');
  });

  it('revoking any malformed token answers 200 (RFC 7009 §2.2), and errors are RFC 6749 bodies', async () => {
    for (const token of junk) {
      const r = await post('/oauth2/revoke', form({ token }), { authorization: job.basic });
      expect(r.status, `${token.length} chars: ${JSON.stringify(r.body)}`).toBe(200);
    }
    expectOAuthError(await post('/oauth2/revoke', form({ token: huge })), 401, 'invalid_client');
    expectOAuthError(await post('/oauth2/revoke', '', { authorization: job.basic }), 400, 'invalid_request');
    expectOAuthError(await post('/oauth2/revoke', `token=${'a'.repeat(200 * 1024)}`, { authorization: job.basic }), 413, 'invalid_request');
  });
});

describe('revocation and its trace', () => {
  it('a revocation whose audit event cannot be written (the database turned read-only) does not happen: 503 temporarily_unavailable, the token stays active, and a retry works', async () => {
    const t = (await post('/oauth2/token', form(good()), { authorization: job.basic })).body.access_token as string;
    const sql = app.db.sql;
    await sql.unsafe(`CREATE OR REPLACE FUNCTION test_refuse_revoke_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'cannot execute INSERT in a read-only transaction' USING ERRCODE = '25006'; END $$`);
    await sql.unsafe('CREATE TRIGGER test_refuse_revoke_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION test_refuse_revoke_audit()');
    try {
      const r = await post('/oauth2/revoke', form({ token: t }), { authorization: job.basic });
      expectOAuthError(r, 503, 'temporarily_unavailable');
      expect(r.headers.get('retry-after')).toBe('1');
      expect(JSON.stringify(r.body)).not.toMatch(/audit_events|25006|INSERT/);
    } finally {
      await sql.unsafe('DROP TRIGGER IF EXISTS test_refuse_revoke_audit ON audit_events');
      await sql.unsafe('DROP FUNCTION IF EXISTS test_refuse_revoke_audit()');
    }
    expect((await post('/oauth2/introspect', form({ token: t }), { authorization: pep.basic })).body.active).toBe(true);
    expect((await post('/oauth2/revoke', form({ token: t }), { authorization: job.basic })).status).toBe(200);
    expect((await post('/oauth2/introspect', form({ token: t }), { authorization: pep.basic })).body).toEqual({ active: false });
  });
});
