/**
 * Dataset tokens under attack (docs/tokens.md), over real HTTP against
 * a real PostgreSQL. Every bad token must be `{active: false}` at
 * POST /oauth2/introspect (asked by an enforcement point) and inactive at
 * verifyToken (with an audience where the audience matters):
 *
 * - forged headers and claims: `alg: none`, HS256 keyed with the public key
 *   (PEM and JWK), no `exp`, wrong `iss`, wrong `aud`, `typ: JWT`, a session
 *   token, `kid` path and SQL tricks, an unknown kid, and `jku`/`x5u`/`jwk`/
 *   `x5c` headers pointing at a loopback server that must receive nothing;
 * - scope: a token for dataset A is not one for dataset B; more columns than
 *   granted get no token;
 * - live state: revoked (RFC 7009), disabled principal, disabled sponsor,
 *   a just-in-time grant revoked or expired → inactive at once (within the
 *   one-second cache bound for changes made behind the server's back);
 * - lifetime: default 15 min, capped by CUSTOS_TOKEN_MAX_SECONDS and by the
 *   earliest expiry of any grant relied on;
 * - fail closed: a decision record that cannot be written means no token
 *   (503 temporarily_unavailable);
 *   every issued token has exactly one decision_log row with its jti.
 */
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { verifyToken } from '../../src/tokens/verifyToken.ts';
import { adminOf, basicAuth, enrollExisting, form, loginAs, oncologyWorld, sponsorCredentials, startTestApp, type Person, type TestApp } from '../support/app.ts';

let app: TestApp;
let admin: Person;
let sponsorId: string;
/** A job with a standing data-scientist role in the project. */
let job: { id: string; basic: string; clientId: string };
/** A job with no role at all: only just-in-time grants give it access. */
let jitJob: { id: string; basic: string; clientId: string };
/** A job whose sponsor holds no standing role, only a just-in-time grant. */
let graftJob: { id: string; basic: string; sponsorId: string };
let pep: { basic: string };

const NOTES = { id: 'onc-notes', audience: 'https://notes.example.org' };
const LABS = { id: 'onc-labs', audience: 'https://labs.example.org' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Every token the server handed out in this file: jti → what it said. */
const issued = new Map<string, { decisionId: string; exp: number; sub: string }>();

const basic = basicAuth;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const detail = (columns: string[] | '*', dataset = NOTES.id) => JSON.stringify([{ type: 'dataset_access', dataset, actions: ['read'], columns, purpose: 'model-training' }]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tokenRequest(t: TestApp, fields: Record<string, string>, auth: string, headers: Record<string, string> = {}) {
  const r = await t.call('POST', '/oauth2/token', { body: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, ...headers } });
  if (r.status === 200 && typeof r.body?.access_token === 'string' && t === app) {
    const p = jose.decodeJwt(r.body.access_token);
    issued.set(p.jti!, { decisionId: p.decision_id as string, exp: p.exp!, sub: p.sub! });
  }
  return r;
}

/** Issues a token or fails the test; returns it with its decoded claims. */
async function issue(auth: string, columns: string[] | '*' = ['note_text'], dataset = NOTES.id, jobId = 'job-sec') {
  const r = await tokenRequest(app, { grant_type: 'client_credentials', authorization_details: detail(columns, dataset), job_id: jobId }, auth);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { token: r.body.access_token as string, expiresIn: r.body.expires_in as number, claims: jose.decodeJwt(r.body.access_token), header: jose.decodeProtectedHeader(r.body.access_token) };
}

async function introspect(token: string, auth = pep.basic) {
  const r = await app.call('POST', '/oauth2/introspect', { body: form({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { active: boolean } & Record<string, unknown>;
}

async function revoke(token: string, auth: string) {
  const r = await app.call('POST', '/oauth2/revoke', { body: form({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth } });
  expect(r.status).toBe(200);
}

/** verifyToken from the source, with the running app's state. */
function verify(token: string, audience?: string) {
  const deps = { keys: app.wired.keys, state: app.wired.app.tokens.state, facts: app.wired.decisions.facts, clock: app.clock, issuer: app.config.publicUrl };
  return verifyToken(deps, token, audience ? { audience } : {});
}

/** Both ways in agree that the token is dead. */
async function expectInactive(token: string, audience = NOTES.audience) {
  expect(await introspect(token)).toEqual({ active: false });
  expect((await verify(token, audience)).active).toBe(false);
}

/** Polls (real time) until the token is inactive; returns the milliseconds it took, or Infinity. */
async function inactiveWithin(token: string, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start <= ms) {
    if (!(await introspect(token)).active) return Date.now() - start;
    await sleep(20);
  }
  return Infinity;
}

/** A compact JWS over `header` and `payload`, signed however the attacker likes. */
function jws(header: Record<string, unknown>, payload: Record<string, unknown>, signer: (input: Buffer) => Buffer | string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = signer(Buffer.from(input));
  return `${input}.${typeof sig === 'string' ? sig : sig.toString('base64url')}`;
}
const es256 = (key: KeyObject) => (input: Buffer) => sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
const hs256 = (secret: string | Buffer) => (input: Buffer) => createHmac('sha256', secret).update(input).digest();

/** Valid claims as the server would write them (for a fresh jti), to be tampered with. */
async function genuineClaims(): Promise<Record<string, unknown>> {
  const { claims } = await issue(job.basic);
  return { ...claims, jti: randomUUID() };
}

async function insertGrant(principalId: string, expiresInMs: number): Promise<{ id: string; expiresAt: Date }> {
  const id = randomUUID();
  const now = app.clock.now().getTime();
  const expiresAt = new Date(now + expiresInMs);
  await app.db.sql`
    INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at, status)
    VALUES (${id}, ${principalId}, 'data-scientist', 'onc', ${new Date(now - 60_000)}, ${expiresAt}, 'active')`;
  // Written behind the service's back: as a write through this process would, empty its caches now
  // (other replicas learn of it through the NOTIFY trigger, which arrives moments later).
  await app.wired.invalidate();
  return { id, expiresAt };
}

async function setStatus(principalId: string, status: 'active' | 'disabled') {
  await loginAs(app, admin);
  const r = await app.call('PATCH', `/v1/principals/${principalId}`, { token: admin.token, body: { status } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

beforeAll(async () => {
  app = await startTestApp();
  admin = await adminOf(app);
  const world = await oncologyWorld(app, admin, [NOTES, LABS]);
  sponsorId = world.scientistId;
  const sci = { id: world.scientistId };
  const c = app.wired.catalog;
  const jobP = await c.createPrincipal({ kind: 'service', name: 'train-sec', sponsor_id: sci.id, project_id: 'onc' });
  await c.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  const jitP = await c.createPrincipal({ kind: 'service', name: 'train-jit', sponsor_id: sci.id, project_id: 'onc' });
  const sci2 = await c.createPrincipal({ kind: 'user', name: 'sci2' });
  // A member of the project (as approver, which reads no data): dataset access only through a grant.
  await c.assignRole({ principal_id: sci2.id, role_id: 'approver', project_id: 'onc' }, null);
  const graftP = await c.createPrincipal({ kind: 'service', name: 'train-graft', sponsor_id: sci2.id, project_id: 'onc' });
  await c.assignRole({ principal_id: graftP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  // Each job's sponsor creates its credentials, in their own session.
  const sponsor2 = await enrollExisting(app, sci2.id, 'sci2');
  const creds = async (sponsor: Person, id: string) => {
    const r = await sponsorCredentials(app, sponsor, id);
    return { basic: basic(r.client_id, r.client_secret!), clientId: r.client_id };
  };
  job = { id: jobP.id, ...(await creds(world.scientist, jobP.id)) };
  jitJob = { id: jitP.id, ...(await creds(world.scientist, jitP.id)) };
  graftJob = { id: graftP.id, basic: (await creds(sponsor2, graftP.id)).basic, sponsorId: sci2.id };
  await loginAs(app, admin);
  pep = world.pep;
});
afterAll(async () => app?.close());

describe('forged tokens', () => {
  it('control: a token this test signs with the real key and genuine claims IS active (so the refusals below are for the stated reason)', async () => {
    const key = await app.wired.keys.activeKey();
    const t = jws({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }, await genuineClaims(), es256(key.privateKey));
    expect((await introspect(t)).active).toBe(true);
    expect((await verify(t, NOTES.audience)).active).toBe(true);
  });

  it('alg none (any spelling, with or without a signature) is inactive', async () => {
    const key = await app.wired.keys.activeKey();
    const claims = await genuineClaims();
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = `${b64({ alg, typ: 'at+jwt', kid: key.kid })}.${b64(claims)}.`;
      await expectInactive(unsigned);
      await expectInactive(unsigned.slice(0, -1)); // no trailing dot
      const withRealSig = jws({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }, claims, es256(key.privateKey)).split('.')[2]!;
      await expectInactive(`${unsigned}${withRealSig}`);
    }
  });

  it('HS256 keyed with the public key (PEM and JWK forms) is inactive', async () => {
    const key = await app.wired.keys.activeKey();
    const claims = await genuineClaims();
    const pub = createPublicKey(key.privateKey);
    const pem = pub.export({ type: 'spki', format: 'pem' }) as string;
    const der = pub.export({ type: 'spki', format: 'der' });
    const jwks = (await app.call('GET', '/.well-known/jwks.json')).body as { keys: Record<string, unknown>[] };
    const published = jwks.keys.find((k) => k.kid === key.kid)!;
    expect(published).toBeDefined();
    const secrets: (string | Buffer)[] = [pem, pem.trim(), der, JSON.stringify(published), JSON.stringify(pub.export({ format: 'jwk' })), published.x as string];
    for (const alg of ['HS256', 'HS384', 'HS512']) {
      for (const secret of secrets) {
        await expectInactive(jws({ alg, typ: 'at+jwt', kid: key.kid }, claims, hs256(secret)));
        await expectInactive(jws({ alg, typ: 'at+jwt' }, claims, hs256(secret)));
      }
    }
  });

  it('a token without exp, signed with the real key, is inactive', async () => {
    const key = await app.wired.keys.activeKey();
    const { exp: _exp, ...claims } = await genuineClaims();
    await expectInactive(jws({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }, claims, es256(key.privateKey)));
    // exp of the wrong type is no better.
    await expectInactive(jws({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }, { ...claims, exp: 'never' }, es256(key.privateKey)));
  });

  it('a wrong issuer, signed with the real key, is inactive', async () => {
    const key = await app.wired.keys.activeKey();
    const claims = await genuineClaims();
    for (const iss of ['https://evil.example', `${app.config.publicUrl}/`, `${app.config.publicUrl}.evil.example`, '']) {
      await expectInactive(jws({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }, { ...claims, iss }, es256(key.privateKey)));
    }
    const { iss: _iss, ...noIss } = claims;
    await expectInactive(jws({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }, noIss, es256(key.privateKey)));
  });

  it('a wrong audience is inactive when verified with an audience', async () => {
    const { token } = await issue(job.basic);
    expect((await verify(token, NOTES.audience)).active).toBe(true);
    expect((await verify(token, 'https://other.example.org')).active).toBe(false);
    const key = await app.wired.keys.activeKey();
    const claims = await genuineClaims();
    const foreign = jws({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }, { ...claims, aud: 'https://other.example.org' }, es256(key.privateKey));
    expect((await verify(foreign, NOTES.audience)).active).toBe(false);
  });

  it('typ JWT (or none) instead of at+jwt is inactive', async () => {
    const key = await app.wired.keys.activeKey();
    const claims = await genuineClaims();
    for (const typ of ['JWT', 'jwt', 'JOSE', undefined]) {
      await expectInactive(jws({ alg: 'ES256', ...(typ ? { typ } : {}), kid: key.kid }, claims, es256(key.privateKey)));
    }
  });

  it('a session token is not a dataset token, nor a dataset token a session', async () => {
    await loginAs(app, admin);
    expect(admin.token).toMatch(/^cst_/);
    await expectInactive(admin.token);
    expect((await verify(admin.token)).active).toBe(false);
    const { token } = await issue(job.basic);
    expect((await app.call('GET', '/v1/me', { token })).status).toBe(401);
  });

  it('kid path, SQL and unknown-key tricks are inactive', async () => {
    const key = await app.wired.keys.activeKey();
    const claims = await genuineClaims();
    const kids: unknown[] = [
      '../../etc/passwd',
      '../../../../../../dev/null',
      '/dev/null',
      "x' OR 1=1 --",
      `${key.kid}' OR '1'='1`,
      `${key.kid}/../${key.kid}`,
      randomBytes(32).toString('base64url'), // well-formed, unknown
      '',
      42,
      [key.kid],
      { kid: key.kid },
    ];
    for (const kid of kids) await expectInactive(jws({ alg: 'ES256', typ: 'at+jwt', kid }, claims, es256(key.privateKey)));
    await expectInactive(jws({ alg: 'ES256', typ: 'at+jwt' }, claims, es256(key.privateKey)));
  });

  describe('key-location headers', () => {
    let server: Server;
    let base: string;
    const hits: string[] = [];
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attackerJwk = { ...(attacker.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid: 'attacker-key-0123456789abcdef', alg: 'ES256', use: 'sig' };

    beforeAll(async () => {
      server = createServer((req, res) => {
        hits.push(`${req.method} ${req.url}`);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [attackerJwk] }));
      }).listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // The trap works: a request to it is seen.
      await fetch(`${base}/probe`);
      expect(hits).toEqual(['GET /probe']);
      hits.length = 0;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('jku / x5u / jwk / x5c headers are inactive and nothing is fetched', async () => {
      const real = await app.wired.keys.activeKey();
      const claims = await genuineClaims();
      const withAttacker = (h: Record<string, unknown>) => jws({ alg: 'ES256', typ: 'at+jwt', ...h }, claims, es256(attacker.privateKey));
      const withReal = (h: Record<string, unknown>) => jws({ alg: 'ES256', typ: 'at+jwt', kid: real.kid, ...h }, claims, es256(real.privateKey));
      const tokens = [
        withAttacker({ kid: attackerJwk.kid, jku: `${base}/jwks.json` }),
        withAttacker({ kid: real.kid, jku: `${base}/jwks.json` }),
        withAttacker({ jku: `${base}/jwks.json` }),
        withAttacker({ kid: attackerJwk.kid, x5u: `${base}/cert.pem` }),
        withAttacker({ x5u: `${base}/cert.pem` }),
        withAttacker({ jwk: attackerJwk }),
        withAttacker({ kid: attackerJwk.kid, jwk: attackerJwk }),
        withAttacker({ kid: real.kid, jwk: attackerJwk }),
        withAttacker({ kid: attackerJwk.kid, x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] }),
        withAttacker({ kid: `${base}/jwks.json` }),
        // Even with the real key, a header that names another key source is refused.
        withReal({ jku: `${base}/jwks.json` }),
        withReal({ x5u: `${base}/cert.pem` }),
        withReal({ jwk: attackerJwk }),
      ];
      for (const t of tokens) await expectInactive(t);
      // Anything asynchronous a verifier might have started has had time to arrive.
      await sleep(200);
      expect(hits).toEqual([]);
    });
  });
});

describe('scope', () => {
  it('a token for dataset A is inactive for dataset B (and the other way round)', async () => {
    const a = await issue(job.basic, ['note_text'], NOTES.id);
    const b = await issue(job.basic, ['note_text'], LABS.id);
    expect(a.claims.aud).toBe(NOTES.audience);
    expect(b.claims.aud).toBe(LABS.audience);
    expect((await verify(a.token, NOTES.audience)).active).toBe(true);
    expect((await verify(a.token, LABS.audience)).active).toBe(false);
    expect((await verify(b.token, LABS.audience)).active).toBe(true);
    expect((await verify(b.token, NOTES.audience)).active).toBe(false);
    expect(a.claims.authorization_details).toEqual([{ type: 'dataset_access', dataset: NOTES.id, actions: ['read'], columns: ['note_text'], purpose: 'model-training' }]);
  });

  it('more columns than granted (or * on PHI) get no token: access_denied, recorded without a jti', async () => {
    const before = issued.size;
    for (const columns of [['note_text', 'patient_name'], ['patient_name'], '*'] as const) {
      const r = await tokenRequest(app, { grant_type: 'client_credentials', authorization_details: detail(columns as string[] | '*'), job_id: 'job-greedy' }, job.basic);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('access_denied');
      expect(r.body).not.toHaveProperty('access_token');
      const id = /decision ([0-9a-f-]{36})/.exec(r.body.error_description)![1]!;
      const [rec] = await app.db.sql`SELECT effect, token_jti FROM decision_log WHERE id = ${id}`;
      expect(rec).toEqual({ effect: 'deny', token_jti: null });
    }
    expect(issued.size).toBe(before);
  });
});

describe('live state', () => {
  it('revoked by its owning client (RFC 7009) → inactive at once; another job cannot revoke it', async () => {
    const { token } = await issue(job.basic);
    await revoke(token, jitJob.basic); // not its token: ignored (RFC 7009 still answers 200)
    expect((await introspect(token)).active).toBe(true);
    await revoke(token, job.basic);
    await expectInactive(token);
  });

  it('disabled principal (the job) → inactive at once; re-enabled → active again', async () => {
    const { token } = await issue(job.basic);
    expect((await introspect(token)).active).toBe(true);
    await setStatus(job.id, 'disabled');
    try {
      await expectInactive(token);
    } finally {
      await setStatus(job.id, 'active');
    }
    expect((await introspect(token)).active).toBe(true);
  });

  it('disabled sponsor → inactive at once; re-enabled → active again', async () => {
    const { token, claims } = await issue(job.basic);
    expect(claims.sponsor).toBe(sponsorId);
    await setStatus(sponsorId, 'disabled');
    try {
      await expectInactive(token);
    } finally {
      await setStatus(sponsorId, 'active');
    }
    expect((await introspect(token)).active).toBe(true);
  });

  it('a revocation made while the job is disabled still holds after it is re-enabled', async () => {
    const { token } = await issue(job.basic);
    await setStatus(job.id, 'disabled');
    try {
      // The enforcement point revokes the token (RFC 7009 answers 200).
      await revoke(token, pep.basic);
    } finally {
      await setStatus(job.id, 'active');
    }
    await expectInactive(token);
  });

  it('JIT grant: the token lives no longer than the grant, names it, and dies with its revocation (within 1 s)', async () => {
    await loginAs(app, admin); // move the clock now, not while the grant runs
    const grant = await insertGrant(jitJob.id, 120_000);
    const t = await issue(jitJob.basic);
    expect(t.claims.exp).toBe(grant.expiresAt.getTime() / 1000);
    expect(t.expiresIn).toBeLessThanOrEqual(120);
    expect(t.expiresIn).toBe(120);
    expect(t.claims.exp! - t.claims.iat!).toBe(120);
    expect(t.claims.grant_ids).toEqual([grant.id]);
    expect((await introspect(t.token)).active).toBe(true);
    const [rec] = await app.db.sql`SELECT grant_ids, token_expires_at FROM decision_log WHERE token_jti = ${t.claims.jti!}`;
    expect(rec!.grant_ids).toEqual([grant.id]);
    expect(new Date(rec!.token_expires_at).getTime()).toBe(grant.expiresAt.getTime());

    // Revoked behind the server's back: the NOTIFY empties the caches.
    await app.db.sql`UPDATE grants SET status = 'revoked' WHERE id = ${grant.id}`;
    expect(await inactiveWithin(t.token, 1000)).toBeLessThanOrEqual(1000);
    expect((await verify(t.token, NOTES.audience)).active).toBe(false);
    // And no new token on the strength of it.
    const again = await tokenRequest(app, { grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-jit' }, jitJob.basic);
    expect(again.body.error).toBe('access_denied');
  });

  it('JIT grant: inactive once the clock passes its expiry — also when the grant was shortened after the token was issued', async () => {
    await loginAs(app, admin);
    // Shortened: the token's own exp is still ahead, only the grant check can catch it.
    const short = await insertGrant(jitJob.id, 120_000);
    const s = await issue(jitJob.basic);
    expect(s.claims.grant_ids).toEqual([short.id]);
    await app.db.sql`UPDATE grants SET expires_at = ${new Date(app.clock.now().getTime() + 10_000)} WHERE id = ${short.id}`;
    await sleep(50); // let the NOTIFY arrive
    expect((await introspect(s.token)).active).toBe(true);
    app.clock.advance(11_000);
    expect(s.claims.exp! * 1000).toBeGreaterThan(app.clock.now().getTime());
    expect(await inactiveWithin(s.token, 1000)).toBeLessThanOrEqual(1000);

    // Plain expiry.
    const grant = await insertGrant(jitJob.id, 120_000);
    const t = await issue(jitJob.basic);
    expect(t.claims.grant_ids).toEqual([grant.id]);
    app.clock.advance(119_000);
    expect((await introspect(t.token)).active).toBe(true);
    app.clock.advance(1_000); // exactly at the expiry: over
    await expectInactive(t.token);
    app.clock.advance(1_000);
    await expectInactive(t.token);
  });

  it('JIT grant shortened after issue: active 1 ms before its new expiry, inactive at that exact instant (the token\'s own exp still ahead)', async () => {
    await loginAs(app, admin);
    const grant = await insertGrant(jitJob.id, 120_000);
    const t = await issue(jitJob.basic);
    expect(t.claims.grant_ids).toEqual([grant.id]);
    // A new expiry off the second boundary, well before the token's exp: only the grant check can decide.
    const end = new Date(app.clock.now().getTime() + 10_500);
    await app.db.sql`UPDATE grants SET expires_at = ${end} WHERE id = ${grant.id}`;
    await app.wired.invalidate();
    app.clock.set(end.getTime() - 1);
    expect(t.claims.exp! * 1000).toBeGreaterThan(end.getTime() + 60_000);
    expect((await introspect(t.token)).active).toBe(true);
    expect((await verify(t.token, NOTES.audience)).active).toBe(true);
    app.clock.set(end.getTime());
    expect(await introspect(t.token)).toEqual({ active: false });
    const v = await verify(t.token, NOTES.audience);
    expect(v).toEqual({ active: false, reason: `grant ${grant.id} revoked or expired` });
    // Back on a whole second, as the other tests expect of the clock.
    app.clock.set(Math.ceil(end.getTime() / 1000) * 1000);
  });

  it('a grant ending within the current second: access_denied, and its record does not claim a token was issued', async () => {
    await loginAs(app, admin);
    const before = (await app.db.sql`SELECT count(token_jti)::int AS t FROM decision_log`)[0]!.t;
    const ms = app.clock.now().getTime() % 1000;
    await insertGrant(jitJob.id, Math.max(1, Math.floor((1000 - ms) / 2))); // ends before the next second: the token would expire at its own iat
    const r = await tokenRequest(app, { grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-brief' }, jitJob.basic);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('access_denied');
    expect(r.body).not.toHaveProperty('access_token');
    const id = /decision ([0-9a-f-]{36})/.exec(r.body.error_description)![1]!;
    const [rec] = await app.db.sql`SELECT effect, token_jti, token_expires_at FROM decision_log WHERE id = ${id}`;
    // The answer was a refusal with no token: the record must not say a token (jti, expiry) went out.
    expect(rec).toMatchObject({ token_jti: null, token_expires_at: null });
    expect((await app.db.sql`SELECT count(token_jti)::int AS t FROM decision_log`)[0]!.t).toBe(before);
  });

  it("a token relying on the sponsor's JIT grant is active while that grant is, and inactive once it is revoked", async () => {
    await loginAs(app, admin);
    // Control: without the grant the sponsor cannot read, so neither can the job.
    const denied = await tokenRequest(app, { grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-graft' }, graftJob.basic);
    expect(denied.body.error).toBe('access_denied');
    const grant = await insertGrant(graftJob.sponsorId, 600_000);
    const t = await issue(graftJob.basic);
    expect(t.claims.grant_ids).toEqual([grant.id]);
    expect(t.claims.exp).toBe(grant.expiresAt.getTime() / 1000);
    // (On failure the verifier's reason is shown.)
    expect(await verify(t.token, NOTES.audience)).toEqual({ active: true, claims: expect.any(Object) });
    expect((await introspect(t.token)).active).toBe(true);
    await app.db.sql`UPDATE grants SET status = 'revoked' WHERE id = ${grant.id}`;
    expect(await inactiveWithin(t.token, 1000)).toBeLessThanOrEqual(1000);
  });
});

describe('lifetime cap from configuration', () => {
  it('CUSTOS_TOKEN_MAX_SECONDS=300 caps the default 900 s (and a longer grant)', async () => {
    const capped = await startTestApp({ CUSTOS_TOKEN_MAX_SECONDS: '300' });
    try {
      expect(capped.config.tokenMaxSeconds).toBe(300);
      const c = capped.wired.catalog;
      await c.createProject({ id: 'onc', name: 'Oncology' });
      const sci = await c.createPrincipal({ kind: 'user', name: 'sci' });
      await c.assignRole({ principal_id: sci.id, role_id: 'data-scientist', project_id: 'onc' }, null);
      await c.createDataset({ id: NOTES.id, project_id: 'onc', owner_id: sci.id, purposes: ['model-training'], audience: NOTES.audience, columns: [{ name: 'note_text', type: 'string' }] });
      const jobP = await c.createPrincipal({ kind: 'service', name: 'train-capped', sponsor_id: sci.id, project_id: 'onc' });
      await c.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
      const cred = await createClientCredential(capped.wired.catalogOps, { principalId: jobP.id, actorId: sci.id, meta: { ip: undefined, requestId: undefined } });
      const auth = basic(cred.client_id, cred.client_secret!);
      const ask = () => tokenRequest(capped, { grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-capped' }, auth);

      const r = await ask();
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.expires_in).toBeLessThanOrEqual(300);
      const p = jose.decodeJwt(r.body.access_token);
      expect(p.exp! - p.iat!).toBeLessThanOrEqual(300);
      expect(p.exp! - p.iat!).toBe(r.body.expires_in);

      // A JIT grant of an hour does not lift the cap either.
      const grantId = randomUUID();
      const now = capped.clock.now().getTime();
      const bare = await c.createPrincipal({ kind: 'service', name: 'train-capped-jit', sponsor_id: sci.id, project_id: 'onc' });
      await capped.db.sql`
        INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at)
        VALUES (${grantId}, ${bare.id}, 'data-scientist', 'onc', ${new Date(now - 60_000)}, ${new Date(now + 3_600_000)})`;
      await capped.wired.invalidate();
      const cred2 = await createClientCredential(capped.wired.catalogOps, { principalId: bare.id, actorId: sci.id, meta: { ip: undefined, requestId: undefined } });
      const r2 = await tokenRequest(capped, { grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-capped-2' }, basic(cred2.client_id, cred2.client_secret!));
      expect(r2.status, JSON.stringify(r2.body)).toBe(200);
      expect(r2.body.expires_in).toBeLessThanOrEqual(300);
      expect(jose.decodeJwt(r2.body.access_token).grant_ids).toEqual([grantId]);
    } finally {
      await capped.close();
    }
  });
});

describe('records', () => {
  it('a decision record that cannot be written means no token: 503 temporarily_unavailable (an RFC 6749 body), no access_token, no row — and it recovers', async () => {
    const sql = app.db.sql;
    const count = async () => (await sql`SELECT count(*)::int AS n, count(token_jti)::int AS t FROM decision_log`)[0]!;
    const before = await count();
    await sql.unsafe(`CREATE OR REPLACE FUNCTION test_refuse_token_record() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'permission denied for table decision_log' USING ERRCODE = '42501'; END $$`);
    await sql.unsafe('CREATE TRIGGER test_refuse_token BEFORE INSERT ON decision_log FOR EACH ROW EXECUTE FUNCTION test_refuse_token_record()');
    const requestIds: string[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const requestId = `tok-sec-fail-${i}`;
        requestIds.push(requestId);
        const r = await tokenRequest(app, { grant_type: 'client_credentials', authorization_details: detail(['note_text']), job_id: 'job-fail' }, job.basic, { 'x-request-id': requestId });
        expect(r.status, JSON.stringify(r.body)).toBe(503);
        // The token endpoint always answers the RFC 6749 §5.2 way, also when the service cannot.
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        expect(r.headers.get('retry-after')).toBe('1');
        expect(r.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable.' });
        expect(r.body).not.toHaveProperty('access_token');
        expect(JSON.stringify(r.body)).not.toMatch(/eyJ|access_token|decision_log|42501/);
      }
      expect(await count()).toEqual(before);
    } finally {
      await sql.unsafe('DROP TRIGGER IF EXISTS test_refuse_token ON decision_log');
      await sql.unsafe('DROP FUNCTION IF EXISTS test_refuse_token_record()');
    }
    for (const id of requestIds) expect((await sql`SELECT count(*)::int AS n FROM decision_log WHERE request_id = ${id}`)[0]!.n).toBe(0);
    const after = await issue(job.basic);
    expect(after.claims.jti).toMatch(UUID);
    expect(await count()).toEqual({ n: before.n + 1, t: before.t + 1 });
  });

  it('every issued token has exactly one decision_log row with its jti', async () => {
    expect(issued.size).toBeGreaterThan(10);
    const rows = await app.db.sql`SELECT id, principal_id, effect, token_jti, token_expires_at FROM decision_log WHERE token_jti IS NOT NULL`;
    const byJti = new Map<string, typeof rows>();
    for (const r of rows) byJti.set(r.token_jti, [...(byJti.get(r.token_jti) ?? []), r] as never);
    for (const [jti, t] of issued) {
      const mine = byJti.get(jti) ?? [];
      expect(mine, `token ${jti}`).toHaveLength(1);
      expect(mine[0]).toMatchObject({ id: t.decisionId, principal_id: t.sub, effect: 'allow' });
      expect(new Date(mine[0]!.token_expires_at).getTime() / 1000).toBe(t.exp);
    }
  });
});
