/**
 * Rate limits over HTTP (docs/rate-limits.md): on POST /v1/decisions,
 * /v1/decisions/batch and /oauth2/token a client over its limit gets 429
 * with Retry-After, RateLimit and RateLimit-Policy, as a problem document
 * (`rate_limited`) on /v1 and an RFC 6749 body (`slow_down`) on the token
 * endpoint. Each refusal is shown to come from the limiter: the same client
 * with the same request was answered 200 just before, another client is
 * answered 200 just after, and the policy header names the limit. The
 * source address's limit applies before authentication: callers with no
 * credentials get 401 until it is spent, then 429.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { basicAuth, startTestApp, type TestApp } from '../support/app.ts';
import { faultWorld, type FaultWorld } from '../support/faults.ts';

type Answer = Awaited<ReturnType<TestApp['call']>>;

/** A counter's value in this process's registry. */
async function counter(app: TestApp, name: string, labels: Record<string, string>): Promise<number> {
  const m = await app.wired.metrics.registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** Expects the rate-limit headers of a 429 under `policy` (draft-ietf-httpapi-ratelimit-headers) and returns Retry-After. */
function expectLimitHeaders(r: Answer, policy: string, rate: number): number {
  const retry = Number(r.headers.get('retry-after'));
  expect(Number.isInteger(retry) && retry >= 1, `Retry-After ${r.headers.get('retry-after')}`).toBe(true);
  expect(r.headers.get('ratelimit-policy')).toBe(`"${policy}";q=${rate};w=1`);
  expect(r.headers.get('ratelimit')).toBe(`"${policy}";r=0;t=${retry}`);
  return retry;
}

describe('rate limits per client', () => {
  let app: TestApp;
  let world: FaultWorld;
  let other: string;
  let batcher: string;

  /** A further enforcement point with client credentials (its own bucket). */
  async function enforcementPoint(name: string): Promise<string> {
    const c = world.wired.catalog;
    const id = (await c.createPrincipal({ kind: 'service', name, sponsor_id: world.scientist, project_id: 'onc' })).id;
    await c.assignRole({ principal_id: id, role_id: 'enforcement-point', project_id: null }, null);
    const cred = await createClientCredential(world.wired.catalogOps, { principalId: id, actorId: world.scientist, meta: { ip: undefined, requestId: undefined } });
    return basicAuth(cred.client_id, cred.client_secret!);
  }

  beforeAll(async () => {
    // Services: one request a second, five at once. The address limit out of the way.
    app = await startTestApp({ CUSTOS_RATE_LIMIT_SERVICE: '1:5', CUSTOS_RATE_LIMIT_ADDRESS: '10000:10000' });
    world = await faultWorld(app.db);
    other = await enforcementPoint('other-server');
    batcher = await enforcementPoint('batch-server');
  });

  afterAll(async () => {
    await app?.close();
  });

  const decide = (auth: string) => app.call('POST', '/v1/decisions', { body: world.decisionBody, headers: { authorization: auth } });
  const batch = (auth: string, n: number) => app.call('POST', '/v1/decisions/batch', { body: { requests: Array(n).fill(JSON.parse(world.decisionBody)) }, headers: { authorization: auth } });
  const token = (auth: string) => app.call('POST', '/oauth2/token', { body: world.tokenBody, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth } });

  /** Sends until the first non-200 (at most 20): the 200s and the answer that ended them. */
  async function untilRefused(send: () => Promise<Answer>): Promise<{ ok: Answer[]; refused: Answer }> {
    const ok: Answer[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await send();
      if (r.status !== 200) return { ok, refused: r };
      ok.push(r);
    }
    throw new Error('never refused');
  }

  it('POST /v1/decisions: over the limit, 429 rate_limited with the headers; another client is still served', async () => {
    const started = performance.now();
    const { ok, refused } = await untilRefused(() => decide(world.auth));
    const seconds = (performance.now() - started) / 1000;
    // The burst, plus what refilled meanwhile (one a second).
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(ok.length).toBeLessThanOrEqual(5 + Math.ceil(seconds));
    expect(ok.every((r) => typeof r.body.decision_id === 'string')).toBe(true);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ status: 429, code: 'rate_limited', title: 'Too Many Requests' });
    expectLimitHeaders(refused, 'service', 1);
    // Not the credentials, not the request: another client with the same request is answered, while the first,
    // asked at the same moment (well within the second its next token takes), is still refused by the limiter.
    const [b, again] = await Promise.all([decide(other), decide(world.auth)]);
    expect(b.status).toBe(200);
    expect(b.body.decision_id).toEqual(expect.any(String));
    expect(again.status).toBe(429);
    expect(await counter(app, 'custos_rate_limited_total', { route: 'decision', class: 'service' })).toBe(2);
  });

  it('POST /v1/decisions/batch: a batch costs one per decision; one over what is left is refused, a single decision is not', async () => {
    expect((await batch(batcher, 4)).status).toBe(200);
    const r = await batch(batcher, 4);
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 'rate_limited' });
    expectLimitHeaders(r, 'service', 1);
    expect((await decide(batcher)).status).toBe(200);
    expect(await counter(app, 'custos_rate_limited_total', { route: 'batch', class: 'service' })).toBe(1);
  });

  it('POST /oauth2/token: over the limit, 429 slow_down (RFC 6749 body) with the headers', async () => {
    const before = await counter(app, 'custos_tokens_refused_total', { error: 'slow_down' });
    const { ok, refused } = await untilRefused(() => token(world.jobAuth));
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(ok.every((r) => typeof r.body.access_token === 'string')).toBe(true);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.headers.get('pragma')).toBe('no-cache');
    expect(refused.body).toEqual({ error: 'slow_down', error_description: expect.any(String) });
    expectLimitHeaders(refused, 'service', 1);
    expect(await counter(app, 'custos_rate_limited_total', { route: 'token', class: 'service' })).toBe(1);
    expect(await counter(app, 'custos_tokens_refused_total', { error: 'slow_down' })).toBe(before + 1);
  });

  it('throttling is audited once per client per window, with the count of refusals', async () => {
    await app.wired.rateLimits!.flush();
    const events = await app.wired.app.audit.recent({ type: 'ratelimit.throttled' });
    const byActor = new Map(events.map((e) => [e.actor_id, e]));
    expect(events).toHaveLength(3);
    expect(byActor.get(world.pep)?.details).toMatchObject({ limited: 'client', class: 'service', refused: 2, routes: ['decision'] });
    expect([...byActor.values()].map((e) => e.details.refused).sort()).toEqual([1, 1, 2]);
    expect(events.every((e) => e.source_ip === '127.0.0.1' || e.source_ip === '::ffff:127.0.0.1')).toBe(true);
  });
});

describe('rate limits per source address', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ CUSTOS_RATE_LIMIT_ADDRESS: '1:3' });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('apply before authentication: 401 while the address has tokens, then 429 on every deciding route', async () => {
    const body = { principal_id: '0198c0de-0000-7000-8000-000000000001', dataset: 'notes', purpose: 'model-training', columns: ['a'] };
    const first = [];
    for (let i = 0; i < 3; i++) first.push((await app.call('POST', '/v1/decisions', { body })).status);
    expect(first).toEqual([401, 401, 401]);
    const d = await app.call('POST', '/v1/decisions', { body });
    expect(d.status).toBe(429);
    expect(d.body).toMatchObject({ code: 'rate_limited' });
    expectLimitHeaders(d, 'address', 1);
    const b = await app.call('POST', '/v1/decisions/batch', { body: { requests: [body] } });
    expect(b.status).toBe(429);
    expect(b.body).toMatchObject({ code: 'rate_limited' });
    const t = await app.call('POST', '/oauth2/token', { body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(t.status).toBe(429);
    expect(t.body).toMatchObject({ error: 'slow_down' });
    expectLimitHeaders(t, 'address', 1);
    // Other routes are not limited: an unauthenticated call elsewhere is still answered 401.
    expect((await app.call('GET', '/v1/principals')).status).toBe(401);
    expect(await counter(app, 'custos_rate_limited_total', { route: 'decision', class: 'address' })).toBe(1);
    expect(await counter(app, 'custos_rate_limited_total', { route: 'token', class: 'address' })).toBe(1);
    await app.wired.rateLimits!.flush();
    const events = await app.wired.app.audit.recent({ type: 'ratelimit.throttled' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor_id: null, details: { limited: 'address', class: 'address', refused: 3, routes: ['batch', 'decision', 'token'] } });
  });
});
