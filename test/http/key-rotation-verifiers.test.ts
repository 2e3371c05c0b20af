/**
 * Key rotation seen by off-the-shelf resource servers that cache the JWK
 * Set: jose's createRemoteJWKSet, and express-oauth2-jwt-bearer's auth()
 * middleware in a small express server on loopback. Both fetch
 * /.well-known/jwks.json from the running Custos and keep it for their
 * cacheMaxAge; for a kid the set lacks they fetch again only once their
 * cooldown (30 s) has passed since the last fetch, and refuse the token
 * until then. Every JWKS fetch of each is counted.
 *
 * The caches run on the wall clock, so this test runs on it too: Custos's
 * ManualClock is moved to follow the wall clock during the timed part, and
 * the periods are scaled down together — Custos publishes a new key
 * PUBLISH_AHEAD_S before it signs and the verifiers keep the set
 * CACHE_MAX_AGE_MS, below it, as 600 s is below the default 900 s in
 * production; the cooldown is their default, longer than the whole test.
 *
 * A scheduled rotation: verifiers warmed up before it, and verifiers started
 * during the publish-ahead period, accept tokens issued before, during and
 * after it. The decisive moment is right after the activation: each holds a
 * set fetched less than a cooldown ago, so it cannot fetch again, and the new
 * key's token passes only because that set already had the key. An immediate
 * rotation (the emergency option): verifiers warmed up the same way refuse
 * the new key's token for want of the key (a verifier that fetches afresh
 * accepts the same token), which is what the first test would see if the key
 * were not published ahead.
 */
import { randomUUID } from 'node:crypto';
import http, { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, basicAuth, form, loginAs, oncologyWorld, sponsorCredentials, startTestApp, type Person, type TestApp } from '../support/app.ts';

/** Custos's CUSTOS_KEY_PUBLISH_AHEAD_SECONDS here. */
const PUBLISH_AHEAD_S = 5;
/** The verifiers' cacheMaxAge: below the publish-ahead period (its JWKS max-age is floor(5/10) = 0 s; one process, no refresh lag). */
const CACHE_MAX_AGE_MS = 4_000;
/** The verifiers' cooldownDuration, their default: within this test an unknown kid never makes them re-fetch. */
const COOLDOWN_MS = 30_000;
const AUDIENCE = 'https://notes.example.org';
const DETAIL = { type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text'], purpose: 'model-training' };

let app: TestApp;
let admin: Person;
let jobBasic: string;

/** Custos's clock follows the wall clock (never backwards), as the verifiers' caches and time checks read it. */
const follow = () => app.clock.set(Math.max(app.clock.now().getTime(), Date.now()));
const sleepUntil = async (t: number) => {
  while (Date.now() < t) await new Promise((r) => setTimeout(r, Math.min(250, t - Date.now() + 1)));
};
const kidOf = (token: string) => jose.decodeProtectedHeader(token).kid;

/** A dataset token for the job, over HTTP. */
async function issue(): Promise<string> {
  follow();
  const r = await app.call('POST', '/oauth2/token', {
    headers: { authorization: jobBasic, 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'client_credentials', authorization_details: JSON.stringify([DETAIL]), job_id: 'train-rot-1' }),
  });
  if (r.status !== 200) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.access_token as string;
}

/** A rotation by the administrator over HTTP (step-up: the login at the end of the set-up is fresh). */
async function rotate(body: { immediate?: boolean }): Promise<{ kid: string; retired: string; activates_at: string; immediate: boolean }> {
  follow();
  const r = await app.call('POST', '/v1/keys/rotate', { token: admin.token, body });
  if (r.status !== 200) throw new Error(`rotate: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Two freshly made caching verifiers: jose's remote key set (JWKS fetches counted) and an express resource server. */
interface Verifiers {
  jose(token: string): Promise<jose.JWTVerifyResult>;
  /** The resource server's answer to GET /notes with the token. */
  express(token: string): Promise<{ status: number; body: string; wwwAuthenticate: string | null }>;
  /** JWKS fetches each has made. */
  fetches: () => { jose: number; express: number };
  close(): Promise<void>;
}
const made: Verifiers[] = [];

async function verifiers(): Promise<Verifiers> {
  let fetches = 0;
  // express-oauth2-jwt-bearer fetches through node's http with the agent it is given; without keep-alive each fetch opens a connection.
  let expressFetches = 0;
  const agent = new (class extends http.Agent {
    override createConnection(...args: Parameters<http.Agent['createConnection']>) {
      expressFetches++;
      return super.createConnection(...args);
    }
  })({ keepAlive: false });
  const jwksUri = `${app.url}/.well-known/jwks.json`;
  const keySet = jose.createRemoteJWKSet(new URL(jwksUri), {
    cacheMaxAge: CACHE_MAX_AGE_MS,
    cooldownDuration: COOLDOWN_MS,
    [jose.customFetch]: (url: string, init: RequestInit) => {
      fetches++;
      return fetch(url, init);
    },
  });
  const rs = express();
  rs.get(
    '/notes',
    auth({ issuer: app.url, audience: AUDIENCE, jwksUri, tokenSigningAlg: 'ES256', strict: true, clockTolerance: 5, cacheMaxAge: CACHE_MAX_AGE_MS, cooldownDuration: COOLDOWN_MS, agent }),
    (req, res) => {
      res.json({ sub: req.auth!.payload.sub });
    },
  );
  const server: Server = createServer(rs).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const rsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const v: Verifiers = {
    jose: (token) => jose.jwtVerify(token, keySet, { issuer: app.url, audience: AUDIENCE, algorithms: ['ES256'], typ: 'at+jwt', clockTolerance: 5 }),
    async express(token) {
      const res = await fetch(`${rsUrl}/notes`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.text(), wwwAuthenticate: res.headers.get('www-authenticate') };
    },
    fetches: () => ({ jose: fetches, express: expressFetches }),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  made.push(v);
  return v;
}

/** Both verifiers accept the token. */
async function accepted(v: Verifiers, token: string, what: string): Promise<void> {
  const verified = await v.jose(token).catch((err: unknown) => {
    throw new Error(`jose refused the token ${what}: ${(err as Error & { code?: string }).code} ${(err as Error).message}`);
  });
  expect(verified.protectedHeader.kid).toBe(kidOf(token));
  const r = await v.express(token);
  expect(r.status, `express-oauth2-jwt-bearer refused the token ${what}: ${r.status} ${r.wwwAuthenticate}`).toBe(200);
}

beforeAll(async () => {
  app = await startTestApp({ CUSTOS_KEY_PUBLISH_AHEAD_SECONDS: String(PUBLISH_AHEAD_S) }, { envFor: (port) => ({ CUSTOS_PUBLIC_URL: `http://127.0.0.1:${port}` }) });
  // Set-up moves the clock by TOTP steps; it starts well behind the wall clock so that the clock only ever moves forward.
  app.clock.set(Date.now() - 20 * 60_000);
  admin = await adminOf(app);
  const world = await oncologyWorld(app, admin, [{ id: 'onc-notes', audience: AUDIENCE }]);
  const job = await app.wired.catalog.createPrincipal({ kind: 'service', name: 'train-rot', sponsor_id: world.scientistId, project_id: 'onc' });
  const creds = await sponsorCredentials(app, world.scientist, job.id);
  jobBasic = basicAuth(creds.client_id, creds.client_secret!);
  const now = app.clock.now().getTime();
  await app.db.sql`
    INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at)
    VALUES (${randomUUID()}, ${job.id}, 'data-scientist', 'onc', ${new Date(now - 60_000)}, ${new Date(now + 4 * 3600_000)})`;
  await app.wired.invalidate();
  // The administrator's login (the rotation's step-up) moves the clock by a TOTP step: done behind the wall clock, which the clock then follows.
  expect(app.clock.now().getTime()).toBeLessThan(Date.now() - 90_000);
  app.clock.set(Date.now() - 90_000);
  await loginAs(app, admin);
  expect(app.clock.now().getTime()).toBeLessThan(Date.now());
  follow();
}, 60_000);

afterAll(async () => {
  await Promise.all(made.map((v) => v.close()));
  await app?.close();
});

describe('key rotation with caching verifiers', () => {
  it('a scheduled rotation: tokens issued before, during and after the publish-ahead period are accepted by both, with no refusal', async () => {
    const t0 = await issue();
    // Warmed up before the rotation: the cached set holds only the current key.
    const before = await verifiers();
    await accepted(before, t0, 'before the rotation (warm-up)');
    expect(before.fetches()).toEqual({ jose: 1, express: 1 });

    const rotation = await rotate({});
    expect(rotation).toMatchObject({ retired: kidOf(t0), immediate: false });
    const activation = Date.parse(rotation.activates_at);
    expect(activation - app.clock.now().getTime()).toBe(PUBLISH_AHEAD_S * 1000);
    // Published at once.
    const jwks = await app.call('GET', '/.well-known/jwks.json');
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(rotation.kid);

    // During the period: still the old key, accepted from the cache.
    const t1 = await issue();
    expect(kidOf(t1)).toBe(rotation.retired);
    await accepted(before, t1, 'during the publish-ahead period');

    // Half a second before the activation: the first verifiers' set has aged out, so they fetch it again; new
    // verifiers start and fetch it for the first time. Each now holds a set fetched within its cooldown.
    await sleepUntil(activation - 500);
    await accepted(before, t1, 'just before the activation');
    expect(before.fetches()).toEqual({ jose: 2, express: 2 });
    const during = await verifiers();
    await accepted(during, t1, 'just before the activation (warm-up of a verifier started during the period)');
    const fetchedAt = Date.now();

    // After the activation: the new key. Both sets are fresh and in their cooldown, so neither verifier may fetch
    // again: the new key must already be in the set they hold — it is, having been published ahead.
    await sleepUntil(activation);
    const t2 = await issue();
    expect(kidOf(t2)).toBe(rotation.kid);
    await accepted(before, t2, 'after the activation');
    await accepted(during, t2, 'after the activation (verifier started during the period)');
    expect(Date.now() - fetchedAt).toBeLessThan(CACHE_MAX_AGE_MS);
    expect(before.fetches()).toEqual({ jose: 2, express: 2 });
    expect(during.fetches()).toEqual({ jose: 1, express: 1 });
    // Tokens of the old key stay good.
    await accepted(before, t1, 'during the period, checked after the activation');
    await accepted(during, t0, 'before the rotation, checked after the activation');
  }, 30_000);

  it('an immediate rotation (the emergency option): the same warmed-up verifiers refuse the new key\'s tokens until they re-fetch', async () => {
    const t0 = await issue();
    const v = await verifiers();
    await accepted(v, t0, 'before the rotation (warm-up)');
    const warmedAt = Date.now();

    const rotation = await rotate({ immediate: true });
    expect(rotation).toMatchObject({ retired: kidOf(t0), immediate: true });
    const t1 = await issue();
    expect(kidOf(t1)).toBe(rotation.kid);
    // The verifiers' sets are still fresh (younger than cacheMaxAge), as they would be for up to ten minutes in production.
    expect(Date.now() - warmedAt).toBeLessThan(CACHE_MAX_AGE_MS);

    const refused = await v.jose(t1).then(
      () => undefined,
      (err: unknown) => err as Error & { code?: string },
    );
    expect(refused?.code).toBe('ERR_JWKS_NO_MATCHING_KEY');
    const r = await v.express(t1);
    expect(r.status).toBe(401);
    expect(r.wwwAuthenticate).toMatch(/error="invalid_token"/);
    // Only the warm-up fetches: the cooldown kept both from fetching the set that has the new key.
    expect(v.fetches()).toEqual({ jose: 1, express: 1 });

    // The token itself is good: verifiers that fetch the set now accept it.
    await accepted(await verifiers(), t1, 'by verifiers that fetched after the rotation');
  }, 30_000);
});
