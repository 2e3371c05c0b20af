/**
 * GET /metrics on a real server: the counters, parsed from the exposition
 * text by an independent parser, equal the traffic this test sent, exactly
 * (decisions by effect and reason class, per-lane request counts, tokens
 * issued and refused by OAuth code, a failed login and a wrong client
 * secret, every record committed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOf, basicAuth, form, oncologyWorld, sponsorCredentials, startTestApp, type TestApp } from '../support/app.ts';
import { count, parseScrape, sum, value, type Scrape } from '../support/prometheusText.ts';

let app: TestApp;
let scientistId: string;
let pep: string;
let job: { basic: string; clientId: string };

beforeAll(async () => {
  app = await startTestApp();
  const admin = await adminOf(app);
  const world = await oncologyWorld(app, admin, [{ id: 'onc-notes', audience: 'https://notes.example.org' }]);
  scientistId = world.scientistId;
  pep = world.pep.basic;
  const jobP = await app.wired.catalog.createPrincipal({ kind: 'service', name: 'train-1', sponsor_id: scientistId, project_id: 'onc' });
  await app.wired.catalog.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  const jc = await sponsorCredentials(app, world.scientist, jobP.id);
  job = { basic: basicAuth(jc.client_id, jc.client_secret!), clientId: jc.client_id };
});
afterAll(async () => app?.close());

async function scrape(): Promise<Scrape> {
  const r = await app.call('GET', '/metrics');
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseScrape(r.body as string);
}

const ask = (columns: string[], purpose = 'model-training') => ({ principal_id: scientistId, dataset: 'onc-notes', purpose, columns });

async function decide(body: unknown): Promise<string> {
  const r = await app.call('POST', '/v1/decisions', { body, headers: { authorization: pep } });
  expect(r.status).toBe(200);
  return r.body.effect;
}

async function token(fields: Record<string, string>, auth = job.basic) {
  return app.call('POST', '/oauth2/token', { body: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth } });
}

const details = (columns: string[]) => JSON.stringify([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns, purpose: 'model-training' }]);

describe('GET /metrics counts the traffic sent, exactly', () => {
  it('starts from zero after set-up (which decides nothing and fails no authentication)', async () => {
    const s = await scrape();
    expect(value(s, 'custos_decisions_total', { effect: 'allow' })).toBe(0);
    expect(value(s, 'custos_decisions_total', { effect: 'deny' })).toBe(0);
    expect(value(s, 'custos_tokens_issued_total')).toBe(0);
    expect(value(s, 'custos_auth_failures_total', { method: 'password' })).toBe(0);
    expect(count(s, 'custos_decision_duration_seconds', { lane: 'decision' })).toBe(0);
  });

  it('after k allows, m denies, a batch, j tokens, i refusals and a failed login', async () => {
    const k = 3;
    const j = 2;
    for (let n = 0; n < k; n++) expect(await decide(ask(['note_text']))).toBe('allow');
    // m = 2 denies: a column not granted, and a purpose the dataset does not permit.
    expect(await decide(ask(['patient_name']))).toBe('deny');
    expect(await decide(ask(['note_text'], 'research'))).toBe('deny');
    const m = 2;
    // One batch: an allow and a deny (purpose).
    const batch = await app.call('POST', '/v1/decisions/batch', { body: { requests: [ask(['note_text']), ask(['note_text'], 'research')] }, headers: { authorization: pep } });
    expect(batch.body.decisions.map((d: { effect: string }) => d.effect)).toEqual(['allow', 'deny']);
    for (let n = 0; n < j; n++) expect((await token({ grant_type: 'client_credentials', authorization_details: details(['note_text']), job_id: `job-${n}` })).status).toBe(200);
    // i = 3 refusals: a deny (access_denied, recorded), a wrong secret (invalid_client), another grant type.
    expect((await token({ grant_type: 'client_credentials', authorization_details: details(['patient_name']), job_id: 'x' })).body.error).toBe('access_denied');
    expect((await token({ grant_type: 'client_credentials', authorization_details: details(['note_text']), job_id: 'x' }, basicAuth(job.clientId, 'wrong-secret'))).body.error).toBe('invalid_client');
    expect((await token({ grant_type: 'password', authorization_details: details(['note_text']), job_id: 'x' })).body.error).toBe('unsupported_grant_type');
    // A failed login.
    expect((await app.call('POST', '/v1/auth/login', { body: { username: 'nobody', password: 'not the password' } })).status).toBe(401);

    const s = await scrape();
    // Decisions: k + 1 (batch) + j (tokens) allows; m + 1 (batch) + 1 (refused token) denies.
    expect(value(s, 'custos_decisions_total', { effect: 'allow' })).toBe(k + 1 + j);
    expect(value(s, 'custos_decisions_total', { effect: 'deny' })).toBe(m + 1 + 1);
    expect(value(s, 'custos_decision_denials_total', { reason: 'columns_not_granted' })).toBe(2);
    expect(value(s, 'custos_decision_denials_total', { reason: 'purpose_not_permitted' })).toBe(2);
    const otherClasses = s.get('custos_decision_denials_total')!.metrics.filter((x) => !['columns_not_granted', 'purpose_not_permitted'].includes(x.labels!.reason!));
    expect(otherClasses.map((x) => Number(x.value))).toEqual(otherClasses.map(() => 0));
    // Requests per lane: every answer of the deciding routes, refusals included.
    expect(count(s, 'custos_decision_duration_seconds', { lane: 'decision' })).toBe(k + m);
    expect(count(s, 'custos_decision_duration_seconds', { lane: 'batch' })).toBe(1);
    expect(count(s, 'custos_decision_duration_seconds', { lane: 'token' })).toBe(j + 3);
    expect(sum(s, 'custos_decision_duration_seconds', { lane: 'decision' })).toBeGreaterThan(0);
    // Tokens.
    expect(value(s, 'custos_tokens_issued_total')).toBe(j);
    expect(value(s, 'custos_tokens_refused_total', { error: 'access_denied' })).toBe(1);
    expect(value(s, 'custos_tokens_refused_total', { error: 'invalid_client' })).toBe(1);
    expect(value(s, 'custos_tokens_refused_total', { error: 'unsupported_grant_type' })).toBe(1);
    expect(s.get('custos_tokens_refused_total')!.metrics.reduce((a, x) => a + Number(x.value), 0)).toBe(3);
    // Authentication: the failed login and the wrong client secret, nothing else.
    expect(value(s, 'custos_auth_failures_total', { method: 'password' })).toBe(1);
    expect(value(s, 'custos_auth_failures_total', { method: 'client_secret' })).toBe(1);
    expect(s.get('custos_auth_failures_total')!.metrics.reduce((a, x) => a + Number(x.value), 0)).toBe(2);
    expect(value(s, 'custos_auth_lockouts_total', { scope: 'account' })).toBe(0);
    // Every committed decision record went through a group commit, counted in the batch sizes.
    const [{ n }] = (await app.db.sql`SELECT count(*)::int AS n FROM decision_log`) as unknown as [{ n: number }];
    expect(n).toBe(k + m + 2 + j + 1);
    expect(sum(s, 'custos_log_commit_batch_size', { log: 'decision_log' })).toBe(n);
    expect(count(s, 'custos_log_commit_duration_seconds', { log: 'decision_log' })).toBe(count(s, 'custos_log_commit_batch_size', { log: 'decision_log' }));
    expect(value(s, 'custos_log_commit_failures_total', { log: 'decision_log' })).toBe(0);
    expect(count(s, 'custos_log_commit_batch_size', { log: 'audit_events' })).toBeGreaterThan(0);
    // Nothing waits, the pool is what postgres.js was given, no alert has been raised.
    expect(value(s, 'custos_decision_log_queue_depth')).toBe(0);
    expect(value(s, 'custos_db_pool_max_connections')).toBe(app.db.appSql.options.max);
    for (const severity of ['low', 'medium', 'high', 'critical']) expect(value(s, 'custos_alerts_open', { severity })).toBe(0);
    expect(value(s, 'custos_build_info', { version: app.wired.app.settings.version, node_version: process.versions.node })).toBe(1);
    expect(value(s, 'process_start_time_seconds')).toBeGreaterThan(0);
  });
});

describe('custos_alerts_open', () => {
  it('counts the unresolved alerts of each severity in the alerts table', async () => {
    const raise = async (severity: string, status: 'open' | 'acknowledged' | 'resolved', key: string) => {
      const resolved = status === 'resolved';
      await app.db.sql`
        INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, status, first_at, last_at, resolved_at, finding)
        VALUES (gen_random_uuid(), 'deny_burst', ${severity}, 'someone', ${key}, 'test', ${status}, now(), now(), ${resolved ? new Date() : null}, ${resolved ? 'benign' : null})`;
    };
    await raise('high', 'open', 'a');
    await raise('high', 'acknowledged', 'b');
    await raise('critical', 'open', 'c');
    await raise('high', 'resolved', 'd');
    await raise('low', 'resolved', 'e');
    const s = await scrape();
    expect(value(s, 'custos_alerts_open', { severity: 'high' })).toBe(2);
    expect(value(s, 'custos_alerts_open', { severity: 'critical' })).toBe(1);
    expect(value(s, 'custos_alerts_open', { severity: 'low' })).toBe(0);
    expect(value(s, 'custos_alerts_open', { severity: 'medium' })).toBe(0);
  });
});

describe('custos_db_pool_connections', () => {
  it("counts the pool's open connections as PostgreSQL lists them, and no other connection of this database", async () => {
    // Several connections at once, so the pool has more than the one that counts.
    await Promise.all(Array.from({ length: 4 }, () => app.db.appSql`SELECT pg_sleep(0.05)`));
    const s = await scrape();
    const [{ n, others }] = (await app.db.sql`
      SELECT count(*) FILTER (WHERE application_name = ${`custos/${process.pid}`})::int AS n,
             count(*) FILTER (WHERE application_name <> ${`custos/${process.pid}`} AND backend_type = 'client backend')::int AS others
      FROM pg_stat_activity WHERE datname = current_database()`) as unknown as [{ n: number; others: number }];
    expect(n).toBeGreaterThanOrEqual(4);
    expect(value(s, 'custos_db_pool_connections')).toBe(n);
    // The listeners and the test's superuser connections are there, and not counted.
    expect(others).toBeGreaterThan(0);
  });
});
