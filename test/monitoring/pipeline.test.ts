/**
 * Detection through the real pipeline: decisions over HTTP and audit events
 * through the chained writer, committed, tailed by the pipeline, alerts in
 * the database within 5 s, with their evidence, a `custos_alerts`
 * notification per alert raised or repeated, a signed webhook delivery per
 * new alert; repeats grouped; near misses quiet; state that survives a
 * restart; decision records that carry the caller's address and still
 * verify; break-glass and log-in failures at the real endpoints; and a loop
 * whose connections are cut again and again keeps going.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLogs } from '../../src/audit/postgres/verify.ts';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { signWebhook } from '../../src/grants/webhook.ts';
import { createLogger } from '../../src/logger.ts';
import { MonitorPipeline } from '../../src/monitoring/pipeline.ts';
import { createMonitorStore } from '../../src/monitoring/postgres/index.ts';
import { dedicatedClient } from '../../src/db/client.ts';
import { uuidv7Generator } from '../../src/clock.ts';
import { capturedLog } from '../support/capturedLog.ts';
import { adminOf, basicAuth, personDirect, startTestApp, type TestApp } from '../support/app.ts';
import { policyWith } from './records.ts';

const policy = policyWith({ deny_burst: { threshold: 3 }, identifier_refusals: { threshold: 3 }, mfa_failures: { threshold: 3 } });
const SECRET = 'a webhook secret of more than thirty-two characters';

let app: TestApp;
let receiver: Server;
const deliveries: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
const notifications: { id: string; event: string }[] = [];
let pep: string;
let scientist: string;
let job: string;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body });
      res.end();
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => receiver.once('listening', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  app = await startTestApp({ CUSTOS_MONITORING_POLL_MS: '50', CUSTOS_WEBHOOK_URL: hook, CUSTOS_WEBHOOK_SECRET: SECRET }, { monitoring: policy });
  await app.db.sql.listen('custos_alerts', (p) => notifications.push(JSON.parse(p)));
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  scientist = (await c.createPrincipal({ kind: 'user', name: 'sci' })).id;
  await c.assignRole({ principal_id: scientist, role_id: 'data-scientist', project_id: 'onc' }, null);
  await c.createDataset({ id: 'notes', project_id: 'onc', owner_id: scientist, purposes: ['model-training'], columns: [{ name: 'note_text', type: 'string' }, { name: 'mrn', type: 'string', category: 'mrn' }] });
  job = (await c.createPrincipal({ kind: 'service', name: 'train-job', sponsor_id: scientist, project_id: 'onc' })).id;
  await c.assignRole({ principal_id: job, role_id: 'data-scientist', project_id: 'onc' }, null);
  const p = await c.createPrincipal({ kind: 'service', name: 'notes-server', sponsor_id: scientist, project_id: 'onc' });
  pep = p.id;
  await c.assignRole({ principal_id: pep, role_id: 'enforcement-point', project_id: null }, null);
  const cred = await createClientCredential(app.wired.catalogOps, { principalId: pep, actorId: scientist, meta: { ip: undefined, requestId: undefined } });
  auth = basicAuth(cred.client_id, cred.client_secret!);
});

afterAll(async () => {
  await app?.close();
  receiver?.close();
});

let auth: string;

/** One decision from `localAddress` (the caller's source address as the server sees it). */
function decide(principal: string, columns: string[], localAddress = '127.0.0.1'): Promise<{ status: number; body: any }> {
  const body = JSON.stringify({ principal_id: principal, dataset: 'notes', purpose: 'model-training', columns });
  const url = new URL(`${app.url}/v1/decisions`);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress, agent: false, headers: { authorization: auth, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The alert with this dedupe key once `ok(alert)` holds, and how long that took; fails after 5 s. */
async function alertWhen(dedupeKey: string, ok: (a: any) => boolean = () => true): Promise<{ alert: any; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const [a] = await app.db.sql`SELECT * FROM alerts WHERE dedupe_key = ${dedupeKey}`;
    if (a && ok(a)) return { alert: a, ms: Date.now() - t0 };
    if (Date.now() - t0 > 5000) throw new Error(`no alert ${dedupeKey} within 5 s (${JSON.stringify(a)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const evidenceOf = async (id: string) => (await app.db.sql`SELECT record_id, log FROM alert_evidence WHERE alert_id = ${id} ORDER BY at, record_id`).map((r) => r.record_id as string);
const alertCount = async () => (await app.db.sql`SELECT count(*)::int AS n FROM alerts`)[0]!.n as number;

/** Waits until the pipeline has judged everything committed so far. */
async function caughtUp(): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const [r] = await app.db.sql`SELECT count(*)::int AS n FROM audit_chains c LEFT JOIN monitoring_cursors m ON m.chain_id = c.id WHERE c.head_seq > coalesce(m.seq, 0)`;
    if (r!.n === 0) return;
    if (Date.now() - t0 > 5000) throw new Error('the pipeline did not catch up within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('detection through the real pipeline', () => {
  it('records the caller address inside the hashed decision record, and the chains still verify', async () => {
    const r = await decide(scientist, ['note_text']);
    expect(r.body.effect).toBe('allow');
    const [row] = await app.db.sql`SELECT input FROM decision_log WHERE id = ${r.body.decision_id}`;
    expect(row!.input.source).toBe('127.0.0.1');
    const report = await verifyLogs({ sql: app.db.sql, roots: app.wired.app.auditLog.keys.roots }, { from: new Date('2020-01-01'), to: new Date('2100-01-01') });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('a deny burst raises within 5 s with its records as evidence, notifies, queues a signed webhook; a repeat is grouped', async () => {
    const denies = [];
    for (let i = 0; i < 3; i++) denies.push((await decide(scientist, ['mrn'])).body);
    expect(denies.map((d) => d.effect)).toEqual(['deny', 'deny', 'deny']);
    const { alert, ms } = await alertWhen(`deny_burst:principal:${scientist}`);
    expect(ms).toBeLessThan(5000);
    expect(alert).toMatchObject({ detector: 'deny_burst', severity: 'medium', subject: scientist, occurrences: 1, status: 'open' });
    expect(await evidenceOf(alert.id)).toEqual(denies.map((d) => d.decision_id).sort());
    // The same denies named an identifier column three times.
    const ids = await alertWhen(`identifier_refusals:${scientist}`);
    expect(ids.alert.details.columns).toEqual(['mrn']);
    // Three more: the open alert counts a second occurrence instead of a new row.
    for (let i = 0; i < 3; i++) await decide(scientist, ['mrn']);
    const again = await alertWhen(`deny_burst:principal:${scientist}`, (a) => a.occurrences === 2);
    expect(again.alert.id).toBe(alert.id);
    expect(await evidenceOf(alert.id)).toHaveLength(6);
    await expect.poll(() => notifications.filter((n) => n.id === alert.id).map((n) => n.event), { timeout: 5000 }).toEqual(['raised', 'repeated']);
    // One webhook delivery per new alert, signed.
    await expect.poll(() => deliveries.filter((d) => JSON.parse(d.body).data.id === alert.id).length, { timeout: 5000 }).toBe(1);
    const d = deliveries.find((x) => JSON.parse(x.body).data.id === alert.id)!;
    expect(d.headers['custos-event']).toBe('alert.raised');
    const t = Number(/t=(\d+)/.exec(String(d.headers['custos-signature']))![1]);
    expect(d.headers['custos-signature']).toBe(signWebhook(SECRET, t, d.body));
    // The enforcement point asked all six: a burst of its own too.
    expect((await alertWhen(`deny_burst:caller:${pep}`)).alert.occurrences).toBe(2);
    expect(await app.wired.monitoring.store.openAlertCounts()).toEqual({ low: 0, medium: 2, high: 1, critical: 0 });
  });

  it('stays quiet on two denies of another principal (threshold 3)', async () => {
    const other = (await app.wired.catalog.createPrincipal({ kind: 'user', name: 'other' })).id;
    await decide(other, ['mrn']);
    await decide(other, ['mrn']);
    await caughtUp();
    expect(await app.db.sql`SELECT dedupe_key FROM alerts WHERE subject = ${other}`).toEqual([]);
  });

  it('first access of a job to a dataset raises once, also across a restart of detection', async () => {
    const first = await decide(job, ['note_text']);
    expect(first.body.effect).toBe('allow');
    const { alert } = await alertWhen(`first_access:${job}:notes`);
    expect(await evidenceOf(alert.id)).toEqual([first.body.decision_id]);
    // A "restart": this pipeline stops, a new one (fresh memory) takes over from the database.
    await app.wired.monitoring.pipeline!.stop();
    const restarted = new MonitorPipeline({ store: app.wired.monitoring.store, policy, log: createLogger({ level: 'silent' }), pollMs: 50, batch: 100 });
    restarted.start();
    try {
      await decide(job, ['note_text']);
      await caughtUp();
      const [a] = await app.db.sql`SELECT occurrences FROM alerts WHERE dedupe_key = ${`first_access:${job}:notes`}`;
      expect(a!.occurrences).toBe(1);
      // A new address of the enforcement point, though, is news (its first, 127.0.0.1, was learned quietly).
      expect(await app.db.sql`SELECT 1 FROM alerts WHERE detector = 'new_source'`).toHaveLength(0);
      await decide(scientist, ['note_text'], '127.0.0.2');
      const src = await alertWhen(`new_source:${pep}:127.0.0.2`);
      expect(src.alert.details).toMatchObject({ source: '127.0.0.2', known: ['127.0.0.1'] });
    } finally {
      await restarted.stop();
      app.wired.monitoring.pipeline!.start();
    }
  });

  it('audit events: a failed verification and a counter anomaly raise critical alerts; a passed verification does not', async () => {
    const before = await alertCount();
    await app.wired.audit.record({ type: 'audit.verified', outcome: 'success', actorId: null, details: { via: 'test' } });
    await caughtUp();
    expect(await alertCount()).toBe(before);
    await app.wired.audit.record({ type: 'audit.verified', outcome: 'failure', actorId: null, details: { problems: 1, via: 'test' } });
    await app.wired.audit.record({ type: 'webauthn.counter_anomaly', outcome: 'failure', subjectId: scientist, details: { factor_id: 'f-1', stored_counter: 9, reported_counter: 3 } });
    expect((await alertWhen('chain_verification:verify')).alert.severity).toBe('critical');
    expect((await alertWhen('webauthn_counter:f-1')).alert.subject).toBe(scientist);
  });

  it('a break-glass activation at the real endpoint raises a critical alert with its audit event as evidence', async () => {
    const doc = await personDirect(app, 'doc', [{ role: 'data-scientist', project: 'onc' }]);
    const r = await app.call('POST', '/v1/break-glass', { token: doc.token, body: { project: 'onc', reason: 'Patient safety review of a model alert on ward 7, on call.' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const { alert } = await alertWhen(`break_glass:${r.body.id}`);
    expect(alert).toMatchObject({ detector: 'break_glass', severity: 'critical', subject: doc.id, details: { grant_id: r.body.id, project: 'onc' } });
    const [event] = await app.db.sql`SELECT id FROM audit_events WHERE type = 'break_glass.activated' AND outcome = 'success' AND details->>'grant_id' = ${r.body.id}`;
    expect(await evidenceOf(alert.id)).toEqual([event!.id]);
  });

  it('log-in monitoring: failed TOTP codes at the real endpoints raise a burst, and the lockout they cause its own alert', async () => {
    const admin = await adminOf(app);
    const attempt = async () => {
      const pw = await app.call('POST', '/v1/auth/login', { body: { username: admin.username, password: admin.password } });
      if (pw.status !== 200) return pw.status;
      return (await app.call('POST', '/v1/auth/totp', { body: { mfa_token: pw.body.mfa_token, code: admin.code() === '000000' ? '111111' : '000000' } })).status;
    };
    // Two failures: under the threshold of 3.
    expect([await attempt(), await attempt()]).toEqual([401, 401]);
    await caughtUp();
    expect(await app.db.sql`SELECT 1 FROM alerts WHERE detector = 'mfa_failures'`).toHaveLength(0);
    expect(await attempt()).toBe(401);
    const { alert } = await alertWhen(`mfa_failures:principal:${admin.id}`);
    expect(alert).toMatchObject({ severity: 'high', subject: admin.id, details: { kind: 'burst', count: 3, last_type: 'auth.totp.login' } });
    expect(await evidenceOf(alert.id)).toHaveLength(3);
    // The account budget (5 by default) runs out: the throttle's lockout is an alert of its own.
    let status = 0;
    for (let i = 0; i < 5 && status !== 429; i++) status = await attempt();
    expect(status).toBe(429);
    expect((await alertWhen(`mfa_lockout:mfa:${admin.id}`)).alert.details).toMatchObject({ kind: 'lockout', key_kind: 'account' });
  });

  it('PHI outside working hours raises; one minute inside does not', async () => {
    // 18:59 in New York (EDT): inside.
    app.clock.set(Date.UTC(2026, 5, 1, 22, 59));
    await decide(scientist, ['note_text']);
    await caughtUp();
    expect(await app.db.sql`SELECT 1 FROM alerts WHERE detector = 'phi_after_hours'`).toHaveLength(0);
    app.clock.set(Date.UTC(2026, 5, 1, 23, 0));
    const r = await decide(scientist, ['note_text']);
    const { alert } = await alertWhen(`phi_after_hours:${scientist}`);
    expect(await evidenceOf(alert.id)).toEqual([r.body.decision_id]);
    app.clock.set(Date.UTC(2026, 5, 2, 14, 0));
  });

  it('survives its connections being cut again and again: the loop backs off, retries and detects what was committed meanwhile', async () => {
    // The detection loop on a pool of its own (as a replica's would be), so only its connections are cut:
    // the server's other parts are not under test here.
    await app.wired.monitoring.pipeline!.stop();
    // (One connection without the array-type lookup on connect: a kill during that internal query would be an
    // unobserved rejection inside postgres.js, whoever the client.)
    const pool = dedicatedClient(app.db.appSql, 'custos-detection-test');
    const { log, lines } = capturedLog();
    const loop = new MonitorPipeline({ store: createMonitorStore(pool, { clock: app.clock, ids: uuidv7Generator(app.clock), webhook: false }), policy, log, pollMs: 20, batch: 100 });
    loop.start();
    try {
      const probe = (await app.wired.catalog.createPrincipal({ kind: 'user', name: 'probe' })).id;
      await app.wired.invalidate();
      let cut = 0;
      for (let i = 0; i < 10; i++) {
        const killed = await app.db.sql`
          SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND application_name IN ('custos-detection-test', 'custos-monitoring') AND state = 'idle'`;
        cut += killed.length;
        // Denies committed while the loop's connections come and go.
        if (i % 3 === 0) expect((await decide(probe, ['note_text'])).body.effect).toBe('deny');
        await new Promise((r) => setTimeout(r, 60));
      }
      expect(cut).toBeGreaterThan(3);
      expect(lines.some((l) => l.msg === 'monitoring pass failed; retrying')).toBe(true);
      // Four denies, once each: one alert of one occurrence (threshold 3, the fourth starts the next window).
      const { alert } = await alertWhen(`deny_burst:principal:${probe}`);
      expect(alert.occurrences).toBe(1);
      expect(await evidenceOf(alert.id)).toHaveLength(3);
    } finally {
      await loop.stop();
      await pool.end({ timeout: 2 });
      app.wired.monitoring.pipeline!.start();
    }
  });
});
