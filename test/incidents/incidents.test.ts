/**
 * Incidents over real HTTP on a real database: opening from alerts or
 * directly, the clock in the covered entity's zone, the scope read from the
 * decision log, who may open, read and close (no one closes an incident
 * about their own access), the determination, immutability once closed,
 * the export, and reminders sent once through the signed webhook outbox.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/client.ts';
import { createIncidentStore } from '../../src/incidents/postgres/index.ts';
import { IncidentReminders } from '../../src/incidents/reminders.ts';
import { createLogger } from '../../src/logger.ts';
import { appendLogRows, withAuditAppendRefused } from '../support/db.ts';
import { adminOf, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { startReceiver, type Receiver } from '../grants/webhookReceiver.ts';

let app: TestApp;
let hooks: Receiver;
let admin: Person;
let rev: Person; // a security reviewer with no part in anything
let eve: Person; // a security reviewer who sponsors a job that read data
let sam: Person; // a security reviewer who is the subject of an alert
let dana: Person; // a data scientist: neither audit:read nor incidents:manage
const ids: Record<string, string> = {};
const alerts: Record<string, string> = {};
const decisions: Record<string, string> = {};

const T = (iso: string) => new Date(iso).toISOString();

const ASSESSMENT = {
  nature_and_extent: 'Clinical notes and MRNs of 212 patients; MRN allows re-identification by the covered entity only.',
  unauthorized_person: 'A workforce member with a valid but out-of-purpose grant, bound by the confidentiality agreement.',
  acquired_or_viewed: 'The training job read the rows; the job output was quarantined before any model was published.',
  mitigation: 'Grant revoked, tokens revoked, job artefacts destroyed under attestation within 24 hours.',
};

async function alert(o: { subject: string; first: string; last: string; title?: string }): Promise<string> {
  const id = randomUUID();
  await app.db.sql`
    INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, first_at, last_at)
    VALUES (${id}, 'test-detector', 'high', ${o.subject}, ${'k-' + id}, ${o.title ?? 'unusual reads'}, ${o.first}, ${o.last})`;
  return id;
}

function decision(o: { at: string; principal: string; sponsor?: string; dataset: string; effect: 'allow' | 'deny'; columns?: string[]; jti?: string }): Record<string, unknown> {
  const id = randomUUID();
  return {
    id, at: o.at, principal_id: o.principal, sponsor_id: o.sponsor ?? null, dataset_id: o.dataset, project_id: 'onc', action: 'dataset:read', purpose: 'model-training',
    effect: o.effect, rules: ['r'], reasons: [], granted_columns: o.effect === 'allow' ? (o.columns ?? ['note_text']) : [], denied_columns: [], obligations: [], grant_ids: [],
    break_glass: false, policy_version: 'v1', latency_us: 10, input: {},
    token_jti: o.jti ?? null, token_expires_at: o.jti ? new Date(new Date(o.at).getTime() + 900_000).toISOString() : null, job: o.jti ? { job_id: 'train-42' } : null,
  };
}

beforeAll(async () => {
  hooks = await startReceiver();
  app = await startTestApp({ CUSTOS_TIME_ZONE: 'America/New_York', CUSTOS_WEBHOOK_URL: hooks.url, CUSTOS_WEBHOOK_SECRET: hooks.secret, CUSTOS_WEBHOOK_RETRY_BASE_SECONDS: '0.2' });
  admin = await adminOf(app);
  rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  eve = await personDirect(app, 'eve', [{ role: 'security-reviewer' }]);
  sam = await personDirect(app, 'sam', [{ role: 'security-reviewer' }]);
  dana = await personDirect(app, 'dana', [{ role: 'data-scientist' }]);
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  const mallory = await c.createPrincipal({ kind: 'user', name: 'mallory' });
  ids.mallory = mallory.id;
  const job = await c.createPrincipal({ kind: 'service', name: 'train-onc', sponsor_id: eve.id, project_id: 'onc' });
  ids.job = job.id;
  await c.createDataset({ id: 'onc-notes', project_id: 'onc', owner_id: mallory.id, purposes: ['model-training'], columns: [{ name: 'mrn', type: 'string', category: 'mrn' }, { name: 'note_text', type: 'string' }] });
  // The clock is at 2026-06-01T12:00Z. The incident's window: 28–29 May.
  const rows = [
    decision({ at: '2026-05-28T10:00:00Z', principal: mallory.id, dataset: 'onc-notes', effect: 'allow', columns: ['mrn', 'note_text'], jti: 'jti-mallory-1' }),
    decision({ at: '2026-05-28T11:00:00Z', principal: mallory.id, dataset: 'onc-notes', effect: 'deny' }),
    decision({ at: '2026-05-28T12:00:00Z', principal: mallory.id, dataset: 'cardio-x', effect: 'allow', columns: ['ecg'] }),
    decision({ at: '2026-05-29T09:00:00Z', principal: job.id, sponsor: eve.id, dataset: 'onc-notes', effect: 'allow', columns: ['note_text'], jti: 'jti-job-1' }),
    // Outside the window.
    decision({ at: '2026-05-20T09:00:00Z', principal: mallory.id, dataset: 'onc-notes', effect: 'allow', columns: ['mrn'] }),
  ];
  for (const [k, r] of [['m1', rows[0]], ['m2', rows[1]], ['m3', rows[2]], ['j1', rows[3]], ['old', rows[4]]] as const) decisions[k] = r!.id as string;
  await appendLogRows(app.db.sql, 'decision_log', rows);
  alerts.mallory = await alert({ subject: mallory.id, first: '2026-05-28T09:30:00Z', last: '2026-05-29T10:00:00Z' });
  alerts.dataset = await alert({ subject: 'onc-notes', first: '2026-05-27T08:00:00Z', last: '2026-05-29T12:00:00Z' });
  alerts.sam = await alert({ subject: sam.id, first: '2026-05-28T09:00:00Z', last: '2026-05-28T09:05:00Z' });
  alerts.chain = await alert({ subject: randomUUID(), first: '2026-05-28T09:00:00Z', last: '2026-05-28T09:05:00Z' });
});

beforeEach(async () => {
  for (const p of [rev, eve, sam, dana, admin]) await loginAs(app, p);
});

afterAll(async () => {
  await app?.close();
  await hooks?.close();
});

const open = (p: Person, body: Record<string, unknown>) => app.call('POST', '/v1/incidents', { token: p.token, body });
const BASE = { title: 'Out-of-purpose reads of oncology notes', description: 'Alerted reads of onc-notes by a workforce member.' };
const eventsOf = (id: string, type?: string) =>
  app.db.sql`SELECT type, outcome, actor_id, details FROM audit_events WHERE subject_id = ${id} ${type ? app.db.sql`AND type = ${type}` : app.db.sql``} ORDER BY at, id`;

describe('opening an incident', () => {
  it('from an alert: the clock in the configured zone, the scope prefilled from the alert, linked and audited in one go', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.headers.get('location')).toBe(`/v1/incidents/${r.body.id}`);
    // 08:00 EDT on 30 May: day 60 is 29 July, ending at 23:59:59.999 EDT.
    expect(r.body).toMatchObject({
      status: 'open',
      time_zone: 'America/New_York',
      discovery_date: '2026-05-30',
      deadline_date: '2026-07-29',
      deadline_at: '2026-07-30T03:59:59.999Z',
      days_left: 58, // today is 1 June in New York
      overdue: false,
      principal_ids: [ids.mallory],
      dataset_ids: [],
      window_from: T('2026-05-28T09:30:00Z'),
      window_to: T('2026-05-30T12:00:00Z'),
      opened_by: rev.id,
    });
    expect(r.body.alerts.map((a: { id: string }) => a.id)).toEqual([alerts.mallory]);
    const [ev] = await eventsOf(r.body.id, 'incident.opened');
    expect(ev).toMatchObject({ outcome: 'success', actor_id: rev.id });
    expect(ev!.details).toMatchObject({ deadline_at: '2026-07-30T03:59:59.999Z', alert_ids: [alerts.mallory] });
    // Reminders 30, 14, 7, 3 and 1 days ahead, at the start of those New York days.
    const reminders = await app.db.sql`SELECT days_before, due_at FROM incident_reminders WHERE incident_id = ${r.body.id} ORDER BY days_before DESC`;
    expect(reminders.map((x) => [x.days_before, (x.due_at as Date).toISOString()])).toEqual([
      [30, '2026-06-29T04:00:00.000Z'],
      [14, '2026-07-15T04:00:00.000Z'],
      [7, '2026-07-22T04:00:00.000Z'],
      [3, '2026-07-26T04:00:00.000Z'],
      [1, '2026-07-28T04:00:00.000Z'],
    ]);
  });

  it('directly, in its own zone: the deadline follows the calendar of Sydney', async () => {
    // 1 June 12:00Z is 22:00 AEST on 1 June; 13:59:59Z is 23:59:59 and 14:00Z already 2 June.
    const a = await open(rev, { ...BASE, discovered_at: '2026-06-01T11:00:00Z', time_zone: 'Australia/Sydney', window: { from: '2026-05-28T00:00:00Z' } });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(a.body).toMatchObject({ time_zone: 'Australia/Sydney', discovery_date: '2026-06-01', deadline_date: '2026-07-31', deadline_at: '2026-07-31T13:59:59.999Z', days_left: 60, principal_ids: [], dataset_ids: [] });
  });

  it('takes a dataset subject into the dataset list, and leaves subjects that are neither principal nor dataset out', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.dataset, alerts.chain] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ principal_ids: [], dataset_ids: ['onc-notes'], window_from: T('2026-05-27T08:00:00Z') });
  });

  it('refuses an unknown time zone, a discovery in the future, a missing window, an unknown alert; nothing is written', async () => {
    const before = await app.db.sql`SELECT count(*)::int AS n FROM incidents`;
    const zone = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', time_zone: 'Mars/Olympus_Mons', alert_ids: [alerts.mallory] });
    expect(zone.status).toBe(400);
    expect(zone.body.errors ?? zone.body.issues ?? zone.body).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'body.time_zone' })]));
    // One millisecond ahead of the clock is the future.
    const future = await open(rev, { ...BASE, discovered_at: new Date(app.clock.now().getTime() + 1).toISOString(), alert_ids: [alerts.mallory] });
    expect(future.status).toBe(400);
    expect(JSON.stringify(future.body)).toContain('body.discovered_at');
    // The same request at the clock's instant is accepted: the refusal above is the future check.
    const present = await open(rev, { ...BASE, discovered_at: app.clock.now().toISOString(), alert_ids: [alerts.mallory] });
    expect(present.status, JSON.stringify(present.body)).toBe(201);
    const nowindow = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z' });
    expect(nowindow.status).toBe(400);
    expect(JSON.stringify(nowindow.body)).toContain('body.window.from');
    const ghost = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory, randomUUID()] });
    expect(ghost.status).toBe(404);
    const after = await app.db.sql`SELECT count(*)::int AS n FROM incidents`;
    expect(after[0]!.n).toBe(before[0]!.n + 1);
  });

  it('refuses text that cannot be stored, and unknown fields (mass assignment)', async () => {
    expect((await open(rev, { ...BASE, title: 'bad\u0000title', discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] })).status).toBe(400);
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory], status: 'closed', determination: 'not_breach' });
    expect(r.status).toBe(400);
  });
});

describe('who may open and read', () => {
  it('a data scientist may neither open nor read; an administrator neither; no session, nothing', async () => {
    for (const p of [dana, admin]) {
      expect((await open(p, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] })).status).toBe(403);
      expect((await app.call('GET', '/v1/incidents', { token: p.token })).status).toBe(403);
    }
    expect((await app.call('GET', '/v1/incidents')).status).toBe(401);
    // The same request by a reviewer passes: the refusals above are the permission check.
    expect((await app.call('GET', '/v1/incidents', { token: rev.token })).status).toBe(200);
  });

  it('reading is audited: who looked at which incident', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    const g = await app.call('GET', `/v1/incidents/${r.body.id}`, { token: eve.token });
    expect(g.status).toBe(200);
    expect(g.body.alerts).toHaveLength(1);
    expect(await eventsOf(r.body.id, 'incident.viewed')).toEqual([expect.objectContaining({ actor_id: eve.id })]);
    expect((await app.call('GET', `/v1/incidents/${randomUUID()}`, { token: rev.token })).status).toBe(404);
  });

  it('lists newest first with days left, filtered by status', async () => {
    const l = await app.call('GET', '/v1/incidents?status=open&limit=2', { token: rev.token });
    expect(l.status).toBe(200);
    expect(l.body.items).toHaveLength(2);
    expect(l.body.items[0].id > l.body.items[1].id).toBe(true);
    expect(typeof l.body.items[0].days_left).toBe('number');
    const next = await app.call('GET', `/v1/incidents?status=open&limit=2&cursor=${l.body.next_cursor}`, { token: rev.token });
    expect(next.body.items[0].id < l.body.items[1].id).toBe(true);
  });
});

describe('scope', () => {
  it('reads principals, datasets, granted columns, decisions and tokens of the window and filters from the decision log', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    const s = await app.call('GET', `/v1/incidents/${r.body.id}/scope`, { token: rev.token });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    // Mallory's three decisions in the window; not the one on 20 May, not the job's (another principal).
    expect(s.body.decisions).toEqual({ total: 3, allow: 2, deny: 1 });
    expect(s.body.principals).toEqual([expect.objectContaining({ id: ids.mallory, name: 'mallory', kind: 'user', decisions: 3, allows: 2 })]);
    expect(s.body.datasets.map((d: { id: string }) => d.id).sort()).toEqual(['cardio-x', 'onc-notes']);
    expect(s.body.columns).toEqual([
      { dataset_id: 'cardio-x', column: 'ecg', allows: 1 },
      { dataset_id: 'onc-notes', column: 'mrn', allows: 1 },
      { dataset_id: 'onc-notes', column: 'note_text', allows: 1 },
    ]);
    expect(s.body.tokens).toEqual([expect.objectContaining({ jti: 'jti-mallory-1', decision_id: decisions.m1, expires_at: '2026-05-28T10:15:00.000Z', job: { job_id: 'train-42' } })]);
  });

  it('a principal filter also takes the jobs the principal sponsors; a dataset filter narrows to the dataset', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', window: { from: '2026-05-28T00:00:00Z' }, principal_ids: [eve.id], dataset_ids: ['onc-notes'] });
    const s = await app.call('GET', `/v1/incidents/${r.body.id}/scope`, { token: rev.token });
    expect(s.body.decisions.total).toBe(1);
    expect(s.body.tokens.map((t: { jti: string }) => t.jti)).toEqual(['jti-job-1']);
  });

  it('linking an alert widens the window and a list that already narrows the scope; an empty list stays "all"', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    app.clock.advance(1000);
    const l = await app.call('POST', `/v1/incidents/${r.body.id}/alerts`, { token: rev.token, body: { alert_ids: [alerts.dataset, alerts.mallory] } });
    expect(l.status, JSON.stringify(l.body)).toBe(200);
    expect(l.body.linked).toEqual([alerts.dataset]);
    expect(l.body).toMatchObject({ window_from: T('2026-05-27T08:00:00Z'), principal_ids: [ids.mallory], dataset_ids: [] });
    expect(l.body.alerts.map((a: { id: string }) => a.id)).toEqual([alerts.mallory, alerts.dataset]);
    const [ev] = await eventsOf(r.body.id, 'incident.alerts_linked');
    expect(ev!.details).toMatchObject({ alert_ids: [alerts.dataset], already_linked: [alerts.mallory] });
    expect((await app.call('POST', `/v1/incidents/${r.body.id}/alerts`, { token: rev.token, body: { alert_ids: [randomUUID()] } })).status).toBe(404);
    expect((await app.call('POST', `/v1/incidents/${r.body.id}/alerts`, { token: dana.token, body: { alert_ids: [alerts.sam] } })).status).toBe(403);
  });
});

const close = (p: Person, id: string, body: Record<string, unknown>) => app.call('POST', `/v1/incidents/${id}/close`, { token: p.token, body });
const NOT_BREACH = { determination: 'not_breach', assessment: { ...ASSESSMENT, low_probability_of_compromise: true } };

describe('closing', () => {
  it('needs a fresh second factor', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    app.clock.advance(11 * 60_000);
    // A read keeps the session alive (idle timeout) while the step-up window has passed.
    expect((await app.call('GET', `/v1/incidents/${r.body.id}`, { token: rev.token })).status).toBe(200);
    const c = await close(rev, r.body.id, NOT_BREACH);
    expect(c.status, JSON.stringify(c.body)).toBe(401);
    expect(c.body.code).toBe('step_up_required');
    await loginAs(app, rev);
    expect((await close(rev, r.body.id, NOT_BREACH)).status).toBe(200);
  });

  it('refuses the subject of a linked alert, and audits the refusal; another reviewer may close', async () => {
    // The principal list is given (so it does not name Sam): only the linked alert ties Sam to the incident.
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.sam], principal_ids: [ids.mallory] });
    expect(r.body.principal_ids).toEqual([ids.mallory]);
    const c = await close(sam, r.body.id, NOT_BREACH);
    expect(c.status, JSON.stringify(c.body)).toBe(403);
    expect(c.body.code).toBe('forbidden');
    expect(await eventsOf(r.body.id, 'incident.closed')).toEqual([expect.objectContaining({ outcome: 'failure', actor_id: sam.id, details: { reason: 'involved', involvement: 'subject of a linked alert' } })]);
    expect((await app.call('GET', `/v1/incidents/${r.body.id}`, { token: rev.token })).body.status).toBe('open');
    expect((await close(rev, r.body.id, NOT_BREACH)).status).toBe(200);
  });

  it('refuses a reviewer the incident names among its principals, though the log holds no decision of theirs', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', window: { from: '2026-05-28T00:00:00Z' }, principal_ids: [sam.id, ids.mallory] });
    const c = await close(sam, r.body.id, NOT_BREACH);
    expect(c.status).toBe(403);
    expect((await eventsOf(r.body.id, 'incident.closed'))[0]).toMatchObject({ outcome: 'failure', actor_id: sam.id, details: { involvement: 'named in the scope' } });
    expect((await close(rev, r.body.id, NOT_BREACH)).status).toBe(200);
  });

  it('refuses a reviewer whose job read data in the window, even when the principal filter leaves them out', async () => {
    // Opened from Mallory's alert: the principal filter names Mallory only, but Eve's job read onc-notes in the window.
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    expect(r.body.principal_ids).toEqual([ids.mallory]);
    const c = await close(eve, r.body.id, NOT_BREACH);
    expect(c.status).toBe(403);
    expect((await eventsOf(r.body.id, 'incident.closed'))[0]).toMatchObject({ outcome: 'failure', details: { involvement: 'in the scope' } });
    // Eve may close an incident whose window her job's read falls outside of: the refusal above is the scope check.
    const other = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', window: { from: '2026-05-28T00:00:00Z', to: '2026-05-28T23:59:59Z' }, principal_ids: [ids.mallory] });
    expect((await close(eve, other.body.id, NOT_BREACH)).status).toBe(200);
  });

  it('needs all four factors, and a conclusion that supports the determination', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    for (const missing of Object.keys(ASSESSMENT)) {
      const assessment: Record<string, unknown> = { ...ASSESSMENT, low_probability_of_compromise: true };
      delete assessment[missing];
      const c = await close(rev, r.body.id, { determination: 'not_breach', assessment });
      expect(c.status, missing).toBe(400);
      expect(JSON.stringify(c.body)).toContain(`body.assessment.${missing}`);
      expect((await close(rev, r.body.id, { determination: 'not_breach', assessment: { ...assessment, [missing]: 'too short' } })).status).toBe(400);
    }
    const presumed = await close(rev, r.body.id, { determination: 'not_breach', assessment: { ...ASSESSMENT, low_probability_of_compromise: false } });
    expect(presumed.status).toBe(400);
    expect(JSON.stringify(presumed.body)).toContain('low_probability_of_compromise');
    expect((await close(rev, r.body.id, { determination: 'breach', assessment: { ...ASSESSMENT, low_probability_of_compromise: true } })).status).toBe(400);
    expect((await app.call('GET', `/v1/incidents/${r.body.id}`, { token: rev.token })).body.status).toBe('open');
    const ok = await close(rev, r.body.id, { determination: 'breach', assessment: { ...ASSESSMENT, low_probability_of_compromise: false } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toMatchObject({ status: 'closed', determination: 'breach', closed_by: rev.id, days_left: null, assessment: { ...ASSESSMENT, low_probability_of_compromise: false } });
    const [ev] = (await eventsOf(r.body.id, 'incident.closed')).filter((e) => e.outcome === 'success');
    expect(ev!.details).toMatchObject({ determination: 'breach', assessment: ASSESSMENT });
  });

  it('two reviewers closing at once: one determination, the other answered 409', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    const both = await Promise.all([close(rev, r.body.id, NOT_BREACH), close(sam, r.body.id, { determination: 'breach', assessment: { ...ASSESSMENT, low_probability_of_compromise: false } })]);
    expect(both.map((b) => b.status).sort()).toEqual([200, 409]);
    const winner = both.find((b) => b.status === 200)!.body;
    const [row] = await app.db.sql`SELECT determination, closed_by FROM incidents WHERE id = ${r.body.id}`;
    expect(row).toEqual({ determination: winner.determination, closed_by: winner.closed_by });
    expect((await eventsOf(r.body.id, 'incident.closed')).filter((e) => e.outcome === 'success')).toHaveLength(1);
  });

  it('a closed incident never changes: no second close, no more alerts, and not through SQL either', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    expect((await close(rev, r.body.id, NOT_BREACH)).status).toBe(200);
    const again = await close(rev, r.body.id, { determination: 'breach', assessment: { ...ASSESSMENT, low_probability_of_compromise: false } });
    expect(again.status).toBe(409);
    expect((await app.call('POST', `/v1/incidents/${r.body.id}/alerts`, { token: rev.token, body: { alert_ids: [alerts.dataset] } })).status).toBe(409);
    // The application's role, straight in the database.
    await expect(app.db.appSql`UPDATE incidents SET determination = 'breach' WHERE id = ${r.body.id}`).rejects.toThrow(/closed/);
    await expect(app.db.appSql`DELETE FROM incidents WHERE id = ${r.body.id}`).rejects.toThrow(/closed/);
    await expect(app.db.appSql`INSERT INTO incident_alerts (incident_id, alert_id, linked_at, linked_by) VALUES (${r.body.id}, ${alerts.dataset!}, now(), ${rev.id})`).rejects.toThrow(/closed/);
    await expect(app.db.appSql`DELETE FROM incident_alerts WHERE incident_id = ${r.body.id}`).rejects.toThrow(/closed/);
    const [row] = await app.db.sql`SELECT determination FROM incidents WHERE id = ${r.body.id}`;
    expect(row!.determination).toBe('not_breach');
    // An open incident's row can change (the trigger refuses closed ones only).
    const o = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    await app.db.appSql`UPDATE incidents SET description = description WHERE id = ${o.body.id}`;
  });
});

describe('no change without its audit event', () => {
  it('with the audit append refused, opening, linking and closing answer 503 and leave nothing behind', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    const [{ n: before }] = (await app.db.sql`SELECT count(*)::int AS n FROM incidents`) as unknown as [{ n: number }];
    await withAuditAppendRefused(app.db.sql, async () => {
      const o = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
      expect(o.status, JSON.stringify(o.body)).toBe(503);
      expect(o.body.code).toBe('audit_unavailable');
      expect((await app.call('POST', `/v1/incidents/${r.body.id}/alerts`, { token: rev.token, body: { alert_ids: [alerts.dataset] } })).status).toBe(503);
      expect((await close(rev, r.body.id, NOT_BREACH)).status).toBe(503);
    });
    const [{ n: after }] = (await app.db.sql`SELECT count(*)::int AS n FROM incidents`) as unknown as [{ n: number }];
    expect(after).toBe(before);
    const [row] = await app.db.sql`SELECT status FROM incidents WHERE id = ${r.body.id}`;
    expect(row!.status).toBe('open');
    expect(await app.db.sql`SELECT alert_id FROM incident_alerts WHERE incident_id = ${r.body.id}`).toEqual([{ alert_id: alerts.mallory }]);
  });
});

describe('export', () => {
  it('JSON: the incident, alerts, scope, determination, audit trail and every decision in scope, streamed as one document', async () => {
    const r = await open(rev, { ...BASE, title: '=HYPERLINK("http://x")', discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    // A second between steps, as between people's actions: the trail is in time order.
    app.clock.advance(1000);
    await app.call('POST', `/v1/incidents/${r.body.id}/alerts`, { token: rev.token, body: { alert_ids: [alerts.dataset] } });
    app.clock.advance(1000);
    expect((await close(rev, r.body.id, NOT_BREACH)).status).toBe(200);
    app.clock.advance(1000);
    const res = await fetch(`${app.url}/v1/incidents/${r.body.id}/export?format=json`, { headers: { authorization: `Bearer ${rev.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="incident-${r.body.id}.json"`);
    const doc = JSON.parse(await res.text());
    expect(doc.incident).toMatchObject({ id: r.body.id, status: 'closed', deadline_at: '2026-07-30T03:59:59.999Z' });
    expect(doc.alerts.map((a: { id: string }) => a.id)).toEqual([alerts.mallory, alerts.dataset]);
    expect(doc.determination).toMatchObject({ determination: 'not_breach', closed_by: rev.id });
    expect(doc.scope.decisions.total).toBe(3);
    expect(doc.audit_trail.map((e: { type: string }) => e.type)).toEqual(['incident.opened', 'incident.alerts_linked', 'incident.closed', 'incident.exported']);
    expect(doc.decisions.map((d: { id: string }) => d.id)).toEqual([decisions.m1, decisions.m2, decisions.m3]);
    expect(doc.decisions[0]).toMatchObject({ token_jti: 'jti-mallory-1', granted_columns: ['mrn', 'note_text'] });
    // The end of the export is on record too.
    await expect.poll(async () => (await eventsOf(r.body.id, 'incident.export.completed')).map((e) => e.details)).toEqual([{ format: 'json', rows: 3, complete: true }]);
  });

  it('CSV: one table with a record column; formula cells are neutralised', async () => {
    const r = await open(rev, { ...BASE, title: '=HYPERLINK("http://x")', discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    const res = await fetch(`${app.url}/v1/incidents/${r.body.id}/export?format=csv`, { headers: { authorization: `Bearer ${rev.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await res.text()).split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('record,id,at,principal_id,dataset_id,effect,columns,token_jti,token_expires_at,details');
    const kinds = lines.slice(1).map((l) => l.split(',')[0]);
    expect(kinds.filter((k) => k === 'decision')).toHaveLength(3);
    for (const k of ['incident', 'alert', 'scope', 'principal', 'dataset', 'column', 'audit']) expect(kinds, k).toContain(k);
    expect(kinds).not.toContain('determination');
    expect(lines.find((l) => l.startsWith('decision,' + decisions.m1))).toContain('jti-mallory-1');
    // The title is inside the incident's JSON cell; no cell starts with '='.
    expect(lines.some((l) => /(^|,)=/.test(l))).toBe(false);
    await expect.poll(async () => (await eventsOf(r.body.id, 'incident.export.completed')).map((e) => e.details)).toEqual([{ format: 'csv', rows: 3, complete: true }]);
  });

  it('streams many decisions in batches, all of them', async () => {
    const many = Array.from({ length: 1234 }, (_, k) => decision({ at: new Date(Date.UTC(2026, 4, 25, 0, 0, k)).toISOString(), principal: ids.job!, sponsor: eve.id, dataset: 'bulk-ds', effect: 'allow' }));
    await appendLogRows(app.db.sql, 'decision_log', many);
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', window: { from: '2026-05-25T00:00:00Z', to: '2026-05-25T23:59:59Z' }, dataset_ids: ['bulk-ds'] });
    const res = await fetch(`${app.url}/v1/incidents/${r.body.id}/export`, { headers: { authorization: `Bearer ${rev.token}` } });
    const doc = JSON.parse(await res.text());
    expect(doc.decisions).toHaveLength(1234);
    expect(new Set(doc.decisions.map((d: { id: string }) => d.id)).size).toBe(1234);
  });

  it('needs audit:read', async () => {
    const r = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    expect((await app.call('GET', `/v1/incidents/${r.body.id}/export?format=csv`, { token: dana.token })).status).toBe(403);
    expect((await app.call('GET', `/v1/incidents/${r.body.id}/scope`, { token: dana.token })).status).toBe(403);
  });
});

describe('the API document', () => {
  it('lists every incident route', async () => {
    const doc = (await app.call('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths.filter ? {} : doc.paths).filter((p) => p.startsWith('/v1/incidents')).sort()).toEqual(
      ['/v1/incidents', '/v1/incidents/{id}', '/v1/incidents/{id}/alerts', '/v1/incidents/{id}/close', '/v1/incidents/{id}/export', '/v1/incidents/{id}/scope'].sort(),
    );
    expect(Object.keys(doc.paths['/v1/incidents'])).toEqual(expect.arrayContaining(['get', 'post']));
  });
});

describe('reminders', () => {
  it('are sent once each, at the start of the local day, through the signed outbox, even with two replicas at once; never for a closed incident', async () => {
    // Discovered 08:00 EDT on 1 June (the clock): deadline 31 July.
    const r = await open(rev, { ...BASE, discovered_at: app.clock.now().toISOString(), alert_ids: [alerts.mallory] });
    expect(r.body.deadline_date).toBe('2026-07-31');
    const closedOne = await open(rev, { ...BASE, discovered_at: app.clock.now().toISOString(), alert_ids: [alerts.mallory] });
    expect((await close(rev, closedOne.body.id, NOT_BREACH)).status).toBe(200);
    // A second replica: its own pool and its own loop over the same database.
    const replicaSql = createSql({ url: app.db.url, max: 3, role: 'custos_app' });
    const d = app.wired.app.incidents;
    const replica = new IncidentReminders({ deps: { ...d, sql: replicaSql, store: createIncidentStore(replicaSql, { clock: d.clock, ids: d.ids, webhook: true }) }, log: createLogger({ level: 'silent' }) });
    const mine = app.wired.incidentReminders;
    const sentFor = async (id: string) =>
      (await app.db.sql`SELECT payload FROM webhook_deliveries WHERE event = 'incident.deadline_reminder' AND payload->'data'->>'incident_id' = ${id}`).map((x) => (x.payload as { data: { days_before: number } }).data.days_before).sort((a, b) => a - b);
    try {
      // One second before 1 July 00:00 EDT: nothing is due.
      app.clock.set(Date.parse('2026-07-01T03:59:59Z'));
      // (Earlier tests' incidents, due on 30 May + 30 days, go out here.)
      const counts = await Promise.all([mine.pass(), replica.pass()]);
      expect(await sentFor(r.body.id)).toEqual([]);
      app.clock.set(Date.parse('2026-07-01T04:00:00Z'));
      counts.push(...(await Promise.all([mine.pass(), replica.pass(), mine.pass(), replica.pass()])));
      expect(await sentFor(r.body.id)).toEqual([30]);
      const got = await hooks.waitFor('incident.deadline_reminder', (x) => x.body.data.incident_id === r.body.id);
      expect(got.signatureValid).toBe(true);
      expect(got.body.data).toMatchObject({ days_before: 30, days_left: 30, deadline_date: '2026-07-31', deadline_at: '2026-08-01T03:59:59.999Z', time_zone: 'America/New_York', overdue: false });
      expect(JSON.stringify(got.body)).not.toContain(BASE.title);
      // 14 and 7 days before, both due by now: many passes at once, each reminder once.
      app.clock.set(Date.parse('2026-07-24T12:00:00Z'));
      counts.push(...(await Promise.all([mine.pass(), replica.pass(), mine.pass(), replica.pass(), mine.pass()])));
      expect(await sentFor(r.body.id)).toEqual([7, 14, 30]);
      expect(await app.db.sql`SELECT days_before FROM incident_reminders WHERE incident_id = ${r.body.id} AND sent_at IS NULL ORDER BY days_before`).toEqual([{ days_before: 1 }, { days_before: 3 }]);
      // The closed incident's reminders never went out.
      expect(await sentFor(closedOne.body.id)).toEqual([]);
      // Each reminder left one audit event, in the transaction that queued it.
      expect((await eventsOf(r.body.id, 'incident.reminder_sent')).map((e) => e.details.days_before).sort((a: number, b: number) => a - b)).toEqual([7, 14, 30]);
      // Across every incident (earlier tests opened many): what the passes say they sent is what was queued, none twice.
      const [sent] = await app.db.sql`SELECT count(*)::int AS n FROM incident_reminders WHERE sent_at IS NOT NULL`;
      const queued = await app.db.sql`
        SELECT payload->'data'->>'incident_id' AS incident, payload->'data'->>'days_before' AS days, count(*)::int AS n
        FROM webhook_deliveries WHERE event = 'incident.deadline_reminder' GROUP BY 1, 2`;
      expect(counts.reduce((a, b) => a + b, 0)).toBe(sent!.n);
      expect(queued).toHaveLength(sent!.n);
      expect(queued.filter((q) => q.n !== 1)).toEqual([]);
    } finally {
      await replica.stop();
      await replicaSql.end({ timeout: 5 });
    }
  });

  it('days_left reads 0 on the last day and goes negative, overdue, after the deadline', async () => {
    await loginAs(app, rev);
    const own = await open(rev, { ...BASE, discovered_at: '2026-05-30T12:00:00Z', alert_ids: [alerts.mallory] });
    expect(own.body.deadline_date).toBe('2026-07-29');
    const find = async (date: string) => {
      await loginAs(app, rev);
      const l = await app.call('GET', '/v1/incidents?status=open&limit=200', { token: rev.token });
      const i = l.body.items.find((x: { id: string }) => x.id === own.body.id);
      expect(i.deadline_date).toBe(date);
      return i;
    };
    // 16:00 EDT on 29 July, the last day of the incidents discovered on 30 May.
    app.clock.set(Date.parse('2026-07-29T20:00:00Z'));
    expect(await find('2026-07-29')).toMatchObject({ days_left: 0, overdue: false });
    // 1 August 08:00 EDT: that deadline passed three calendar days ago.
    app.clock.set(Date.parse('2026-08-01T12:00:00Z'));
    expect(await find('2026-07-29')).toMatchObject({ days_left: -3, overdue: true });
  });
});
