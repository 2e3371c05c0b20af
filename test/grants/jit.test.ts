/**
 * Just-in-time access end to end over HTTP: requests, distinct approvers
 * with fresh MFA, grants decided to the second against the request's time,
 * revocation that ends tokens at once, break-glass with its event,
 * notification and review item, and signed webhooks received by a real
 * listener (with retries).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { setServedDatasets } from '../../src/tokens/setServedDatasets.ts';
import { basicAuth, form, loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { startReceiver, type Receiver } from './webhookReceiver.ts';

let app: TestApp;
let hooks: Receiver;
let ria: Person; // requester, no standing role in onc
let apa: Person; // approver
let apb: Person; // approver
let cay: Person; // approver, but only for project cardio
let rev: Person; // security reviewer
let doc: Person; // data scientist of onc, eligible for break-glass
let pep: string; // enforcement point's Basic header
let job: string; // training job of ria's

const JUSTIFY = 'Retraining the sepsis model on the Q3 oncology notes (ticket ML-4411).';

async function credential(principalId: string, createdBy: string): Promise<string> {
  const c = await createClientCredential(app.wired.catalogOps, { principalId, actorId: createdBy, meta: { ip: undefined, requestId: undefined } });
  return basicAuth(c.client_id, c.client_secret!);
}

const decide = (principalId: string, o: { purpose?: string; columns?: string[] } = {}) =>
  app.call('POST', '/v1/decisions', { headers: { authorization: pep }, body: { principal_id: principalId, dataset: 'onc-notes', purpose: o.purpose ?? 'model-training', columns: o.columns ?? ['note_text'] } });
const file = (p: Person, body: Record<string, unknown>) =>
  app.call('POST', '/v1/access-requests', { token: p.token, body: { role: 'data-scientist', project: 'onc', duration_seconds: 7200, justification: JUSTIFY, ...body } });
const approve = (p: Person, id: string) => app.call('POST', `/v1/access-requests/${id}/approve`, { token: p.token, body: {} });
const auditOf = (type: string) => app.db.sql`SELECT * FROM audit_events WHERE type = ${type} ORDER BY at, id`;

/** Files a request (as ria unless told) and has both approvers approve it; returns the request (with its grant). */
async function granted(body: Record<string, unknown> = {}, requester: Person = ria) {
  const r = await file(requester, body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect((await approve(apa, r.body.id)).status).toBe(200);
  const done = await approve(apb, r.body.id);
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  expect(done.body.status).toBe('approved');
  return done.body;
}

beforeAll(async () => {
  hooks = await startReceiver();
  app = await startTestApp({
    CUSTOS_WEBHOOK_URL: hooks.url,
    CUSTOS_WEBHOOK_SECRET: hooks.secret,
    CUSTOS_WEBHOOK_RETRY_BASE_SECONDS: '0.2',
    // Sessions outlive the clock jumps below; only MFA freshness (600 s) is tested.
    CUSTOS_IDLE_TIMEOUT_SECONDS: '86400',
    CUSTOS_SESSION_TTL_SECONDS: '86400',
    CUSTOS_SESSION_MAX_SECONDS: '86400',
  });
  const c = app.wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  await c.createProject({ id: 'cardio', name: 'Cardiology' });
  ria = await personDirect(app, 'ria');
  apa = await personDirect(app, 'apa', [{ role: 'approver' }]);
  apb = await personDirect(app, 'apb', [{ role: 'approver' }]);
  cay = await personDirect(app, 'cay', [{ role: 'approver', project: 'cardio' }]);
  rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
  doc = await personDirect(app, 'doc', [{ role: 'data-scientist', project: 'onc' }]);
  await c.createDataset({
    id: 'onc-notes',
    project_id: 'onc',
    owner_id: doc.id,
    purposes: ['model-training', 'emergency'],
    columns: [
      { name: 'patient_name', type: 'string', category: 'names' },
      { name: 'note_text', type: 'string' },
    ],
  });
  const pepP = await c.createPrincipal({ kind: 'service', name: 'notes-server', sponsor_id: doc.id, project_id: 'onc' });
  await c.assignRole({ principal_id: pepP.id, role_id: 'enforcement-point', project_id: null }, null);
  pep = await credential(pepP.id, doc.id);
  // A resource server introspects only tokens for the datasets it serves.
  await setServedDatasets({ resourceServers: app.wired.app.tokens.resourceServers, audit: app.wired.audit }, { principalId: pepP.id, datasets: ['onc-notes'], actorId: doc.id, meta: { ip: undefined, requestId: undefined } });
  const jobP = await c.createPrincipal({ kind: 'service', name: 'train-ria', sponsor_id: ria.id, project_id: 'onc' });
  await c.assignRole({ principal_id: jobP.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  job = await credential(jobP.id, ria.id);
});
// Every test starts with fresh sessions (tests move the clock past the step-up window on purpose).
beforeEach(async () => {
  for (const p of [ria, apa, apb, cay, rev, doc]) await loginAs(app, p);
});
afterAll(async () => {
  await app?.close();
  await hooks?.close();
});

describe('filing a request', () => {
  it('takes only roles the policy lists, within their maximum duration, with a real justification', async () => {
    expect((await file(ria, { role: 'system-administrator' })).status).toBe(403);
    const long = await file(ria, { duration_seconds: 8 * 3600 + 1 });
    expect(long.status).toBe(400);
    expect(JSON.stringify(long.body.errors)).toContain('body.duration_seconds');
    const terse = await file(ria, { justification: 'need it' });
    expect(terse.status).toBe(400);
    expect(JSON.stringify(terse.body.errors)).toContain('body.justification');
    expect((await file(ria, { project: undefined })).status).toBe(400);
    expect((await file(ria, { dataset: 'onc-notes' })).status).toBe(400);
    expect((await file(ria, { project: 'nowhere' })).status).toBe(404);
    // Text that could not be stored in an audit event is refused before anything is written.
    const lone = await file(ria, { justification: `${JUSTIFY} \ud800` });
    expect(lone.status).toBe(400);
  });

  it('records the policy’s approval count (two for a PHI role) and announces the request', async () => {
    const r = await file(ria, {});
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'pending', approvals_required: 2, role_id: 'data-scientist', project_id: 'onc', requester_id: ria.id });
    const note = await hooks.waitFor('access_request.created', (x) => x.body.data.request.id === r.body.id);
    expect(note.signatureValid).toBe(true);
  });
});

describe('approvals', () => {
  it('refuses self-approval, and audits the refusal', async () => {
    const r = await file(ria, {});
    const self = await approve(ria, r.body.id);
    expect(self.status).toBe(403);
    const events = await auditOf('access_request.approve');
    expect(events.some((e) => e.actor_id === ria.id && e.outcome === 'failure' && e.details.request_id === r.body.id)).toBe(true);
    expect((await app.call('GET', `/v1/access-requests/${r.body.id}`, { token: ria.token })).body.approvals).toEqual([]);
  });

  it('refuses an approver outside the scope, and one acting for the requester', async () => {
    const r = await file(ria, {});
    // cay approves for cardio only: to her, the onc request is not even visible.
    expect((await approve(cay, r.body.id)).status).toBe(404);
    const bot = await app.wired.catalog.createPrincipal({ kind: 'service', name: 'ria-bot', sponsor_id: ria.id, project_id: 'onc' });
    await app.wired.catalog.assignRole({ principal_id: bot.id, role_id: 'approver', project_id: null }, null);
    const botAuth = await credential(bot.id, ria.id);
    const viaBot = await app.call('POST', `/v1/access-requests/${r.body.id}/approve`, { headers: { authorization: botAuth }, body: {} });
    expect([401, 403]).toContain(viaBot.status);
    expect((await app.call('GET', `/v1/access-requests/${r.body.id}`, { token: ria.token })).body.approvals).toEqual([]);
  });

  it('refuses an approval without MFA in the last 600 s (step_up_required, audited), and takes it after a step-up', async () => {
    const r = await file(ria, {});
    app.clock.advance(601_000);
    const stale = await approve(apa, r.body.id);
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe('step_up_required');
    const events = await app.db.sql`SELECT * FROM audit_events WHERE type = 'auth.step_up_required' AND actor_id = ${apa.id}`;
    expect(events.some((e) => e.details.action === 'POST /v1/access-requests/:id/approve')).toBe(true);
    const code = apa.code();
    const up = await app.call('POST', '/v1/auth/step-up/totp', { token: apa.token, body: { code } });
    expect(up.status).toBe(200);
    app.clock.advance(30_000);
    expect((await approve(apa, r.body.id)).status).toBe(200);
  });

  it('counts concurrent approvals by the same approver once, and one approver does not satisfy a two-approver rule', async () => {
    const r = await file(ria, {});
    const answers = await Promise.all(Array.from({ length: 6 }, () => approve(apa, r.body.id)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.counted).length).toBe(1);
    const now = await app.call('GET', `/v1/access-requests/${r.body.id}`, { token: ria.token });
    expect(now.body.status).toBe('pending');
    expect(now.body.approvals.map((a: any) => a.approver_id)).toEqual([apa.id]);
    expect(now.body.grant).toBeNull();
    const d = await decide(ria.id);
    expect(d.body.effect).toBe('deny');
  });

  it('creates the grant once the second distinct approver agrees, and announces it', async () => {
    const r = await file(ria, {});
    await approve(apa, r.body.id);
    const [x, y] = await Promise.all([approve(apb, r.body.id), approve(apb, r.body.id)]);
    const done = x.body.grant ? x : y;
    expect(done.body.status).toBe('approved');
    expect(done.body.grant).toMatchObject({ principal_id: ria.id, role_id: 'data-scientist', project_id: 'onc', status: 'active', state: 'active', break_glass: false, request_id: r.body.id });
    const grants = await app.db.sql`SELECT count(*)::int AS n FROM grants WHERE request_id = ${r.body.id}`;
    expect(grants[0]!.n).toBe(1);
    await hooks.waitFor('access_request.approved', (n) => n.body.data.request.id === r.body.id);
    await hooks.waitFor('grant.activated', (n) => n.body.data.grant.id === done.body.grant.id);
  });
});

describe('a grant in force decides to the second', () => {
  it('allows at expiry − 1 s, denies at expiry and at + 1 s, and announces the expiry', async () => {
    const eli = await personDirect(app, 'eli');
    const before = await decide(eli.id);
    const r = await granted({ duration_seconds: 3600 }, eli);
    const grant = r.grant;
    const expires = Date.parse(grant.expires_at);
    expect(expires - Date.parse(grant.not_before)).toBe(3600_000);
    const allowed = await decide(eli.id);
    expect(allowed.body.effect, JSON.stringify(allowed.body)).toBe('allow');
    expect(allowed.body.grant_ids).toEqual([grant.id]);

    app.clock.set(expires - 1000);
    expect((await decide(eli.id)).body.effect).toBe('allow');
    app.clock.set(expires);
    expect((await decide(eli.id)).body.effect).toBe('deny');
    app.clock.set(expires + 1000);
    const late = await decide(eli.id);
    expect(late.body.effect).toBe('deny');
    expect(late.body.reasons.join(' ')).toContain(`${grant.id}`);
    expect(before.body.effect).toBe('deny');
    await hooks.waitFor('grant.expired', (n) => n.body.data.grant.id === grant.id);
  });

  it('a scheduled start: approved ahead, the grant decides nothing until its start', async () => {
    const sam = await personDirect(app, 'sam');
    const start = new Date(app.clock.now().getTime() + 3600_000);
    start.setUTCMilliseconds(0);
    const r = await granted({ starts_at: start.toISOString(), duration_seconds: 1800 }, sam);
    expect(r.grant.not_before).toBe(start.toISOString());
    expect(r.grant.state).toBe('scheduled');
    const early = await decide(sam.id);
    expect(early.body.effect).toBe('deny');
    expect(early.body.reasons.join(' ')).toContain('not yet active');
    app.clock.set(start.getTime() - 1000);
    expect((await decide(sam.id)).body.effect).toBe('deny');
    app.clock.set(start.getTime());
    expect((await decide(sam.id)).body.effect).toBe('allow');
  });
});

describe('revocation', () => {
  it('makes a token minted under the grant inactive in the same second', async () => {
    // Only the grant made here may carry ria's access.
    await app.db.sql`UPDATE grants SET status = 'revoked' WHERE principal_id = ${ria.id}`;
    await app.wired.invalidate();
    const r = await granted({ duration_seconds: 7200 });
    const t = await app.call('POST', '/oauth2/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: job },
      body: form({ grant_type: 'client_credentials', job_id: 'job-jit', authorization_details: JSON.stringify([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text'], purpose: 'model-training' }]) }),
    });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    const claims = JSON.parse(Buffer.from(t.body.access_token.split('.')[1], 'base64url').toString());
    expect(claims.grant_ids).toEqual([r.grant.id]);
    expect(claims.exp).toBeLessThanOrEqual(Date.parse(r.grant.expires_at) / 1000);
    const introspect = () => app.call('POST', '/oauth2/introspect', { headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: pep }, body: form({ token: t.body.access_token }) });
    expect((await introspect()).body.active).toBe(true);

    const second = Math.floor(app.clock.now().getTime() / 1000);
    const revoked = await app.call('POST', `/v1/grants/${r.grant.id}/revoke`, { token: apa.token, body: { reason: 'Project paused by the IRB; access no longer needed.' } });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoked', state: 'revoked', revoked_by: apa.id });
    expect((await introspect()).body.active).toBe(false);
    expect((await decide(ria.id)).body.effect).toBe('deny');
    expect(Math.floor(app.clock.now().getTime() / 1000)).toBe(second);
    await hooks.waitFor('grant.revoked', (n) => n.body.data.grant.id === r.grant.id);
    expect((await app.call('POST', `/v1/grants/${r.grant.id}/revoke`, { token: apa.token, body: { reason: 'Project paused by the IRB; access no longer needed.' } })).status).toBe(409);
  });

  it('is refused to someone with no say over the grant', async () => {
    const r = await granted({ duration_seconds: 600 });
    const no = await app.call('POST', `/v1/grants/${r.grant.id}/revoke`, { token: doc.token, body: { reason: 'I would like this to end right now.' } });
    const absent = await app.call('POST', `/v1/grants/${crypto.randomUUID()}/revoke`, { token: doc.token, body: { reason: 'I would like this to end right now.' } });
    // The same answer as for a grant that does not exist, and the attempt is on the record.
    expect(no.status).toBe(404);
    expect(absent.status).toBe(404);
    expect(no.body.detail.replace(r.grant.id, 'X')).toBe(absent.body.detail.replace(/[0-9a-f-]{36}/, 'X'));
    expect((await auditOf('grant.revoked')).some((e) => e.actor_id === doc.id && e.outcome === 'failure')).toBe(true);
    const mine = await app.call('POST', `/v1/access-requests/${r.id}/revoke`, { token: ria.token, body: { reason: 'Finished early; giving the access back.' } });
    expect(mine.status).toBe(200);
    expect(mine.body.history.map((h: any) => h.event)).toEqual(['requested', 'approval', 'approval', 'approved', 'activated', 'revoked']);
  });
});

describe('deny and cancel', () => {
  it('a denied request cannot be approved afterwards; a cancelled one neither; only the requester cancels', async () => {
    const a = await file(ria, {});
    const denied = await app.call('POST', `/v1/access-requests/${a.body.id}/deny`, { token: apa.token, body: { reason: 'Use the de-identified extract instead, it has what you need.' } });
    expect(denied.status).toBe(200);
    expect(denied.body.status).toBe('denied');
    expect((await approve(apb, a.body.id)).status).toBe(409);
    await hooks.waitFor('access_request.denied', (n) => n.body.data.request.id === a.body.id);

    const b = await file(ria, {});
    expect((await app.call('POST', `/v1/access-requests/${b.body.id}/cancel`, { token: doc.token })).status).toBe(404);
    const cancelled = await app.call('POST', `/v1/access-requests/${b.body.id}/cancel`, { token: ria.token });
    expect(cancelled.body.status).toBe('cancelled');
    expect((await approve(apa, b.body.id)).status).toBe(409);
  });
});

describe('lists', () => {
  it('the requester sees their own; approvers what they may approve; reviewers everything; others nothing', async () => {
    const r = await file(ria, {});
    const mine = await app.call('GET', '/v1/access-requests?view=mine&status=pending', { token: ria.token });
    expect(mine.body.items.map((x: any) => x.id)).toContain(r.body.id);
    const toApprove = await app.call('GET', '/v1/access-requests?view=to-approve', { token: apb.token });
    expect(toApprove.body.items.map((x: any) => x.id)).toContain(r.body.id);
    expect((await app.call('GET', '/v1/access-requests?view=to-approve', { token: cay.token })).body.items.map((x: any) => x.id)).not.toContain(r.body.id);
    expect((await app.call('GET', '/v1/access-requests?view=all', { token: ria.token })).status).toBe(403);
    const all = await app.call('GET', '/v1/access-requests?view=all&limit=200', { token: rev.token });
    expect(all.body.items.map((x: any) => x.id)).toContain(r.body.id);
    expect((await app.call('GET', `/v1/access-requests/${r.body.id}`, { token: doc.token })).status).toBe(404);
    const grants = await app.call('GET', '/v1/grants', { token: ria.token });
    expect(grants.body.items.length).toBeGreaterThan(0);
    expect(grants.body.items.every((g: any) => g.principal_id === ria.id)).toBe(true);
    expect((await app.call('GET', '/v1/grants?view=all', { token: doc.token })).status).toBe(403);
  });
});

describe('visibility', () => {
  it('to-approve leaves out what I approved already; a deny or revoke by someone who may not see the request answers 404 and records nothing; grants are their holder\'s and reviewers\' to see', async () => {
    const r = await file(ria, {});
    expect((await approve(apa, r.body.id)).status).toBe(200);
    const toApprove = async (p: Person) => (await app.call('GET', '/v1/access-requests?view=to-approve', { token: p.token })).body.items.map((x: any) => x.id);
    expect(await toApprove(apa)).not.toContain(r.body.id);
    expect(await toApprove(apb)).toContain(r.body.id);
    expect(await toApprove(ria)).not.toContain(r.body.id);

    const denials = (await auditOf('access_request.deny')).length;
    const deny = await app.call('POST', `/v1/access-requests/${r.body.id}/deny`, { token: cay.token, body: { reason: 'Not something cardiology should decide on at all.' } });
    expect(deny.status).toBe(404);
    expect((await auditOf('access_request.deny')).length).toBe(denials);
    // A reviewer sees it, but may not decide it: refused (and audited) as not an approver, not hidden.
    expect((await app.call('POST', `/v1/access-requests/${r.body.id}/deny`, { token: rev.token, body: { reason: 'Reviewers do not decide requests, they only look.' } })).status).toBe(403);
    expect((await auditOf('access_request.deny')).length).toBe(denials + 1);
    // Pending: no grant to revoke yet, even for its requester; and to cay it is not there at all.
    expect((await app.call('POST', `/v1/access-requests/${r.body.id}/revoke`, { token: ria.token, body: { reason: 'Changed my mind about this request.' } })).status).toBe(404);
    expect((await app.call('POST', `/v1/access-requests/${r.body.id}/revoke`, { token: cay.token, body: { reason: 'Changed my mind about this request.' } })).status).toBe(404);

    const g = await granted();
    expect((await app.call('GET', `/v1/grants/${g.grant.id}`, { token: ria.token })).status).toBe(200);
    expect((await app.call('GET', `/v1/grants/${g.grant.id}`, { token: rev.token })).status).toBe(200);
    // An approver of its scope may revoke it, but reading it is for its holder and reviewers.
    expect((await app.call('GET', `/v1/grants/${g.grant.id}`, { token: apa.token })).status).toBe(404);
  });
});

describe('break-glass', () => {
  it('activates at once with fresh MFA: critical event, immediate signed notification, open review item; emergency purpose only', async () => {
    const before = Date.now();
    const r = await app.call('POST', '/v1/break-glass', { token: doc.token, body: { project: 'onc', reason: 'Patient safety review of a model alert on ward 7, on call.' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ principal_id: doc.id, role_id: 'emergency-access', project_id: 'onc', break_glass: true, state: 'active', review: { status: 'open' } });
    expect(Date.parse(r.body.expires_at) - Date.parse(r.body.not_before)).toBe(3600_000);

    const [event] = (await auditOf('break_glass.activated')).filter((e) => e.outcome === 'success' && e.details.grant_id === r.body.id);
    expect(event).toBeDefined();
    expect(event!.details.severity).toBe('critical');
    expect(event!.actor_id).toBe(doc.id);
    const note = await hooks.waitFor('break_glass.activated', (n) => n.body.data.grant.id === r.body.id);
    expect(note.signatureValid).toBe(true);
    expect(note.body.data.severity).toBe('critical');
    expect(Date.now() - before).toBeLessThan(5000);

    const emergency = await decide(doc.id, { purpose: 'emergency', columns: ['patient_name', 'note_text'] });
    expect(emergency.body).toMatchObject({ effect: 'allow', break_glass: true, grant_ids: [r.body.id], rules: ['break-glass-emergency'] });
    const rows = await app.db.sql`SELECT break_glass FROM decision_log WHERE id = ${emergency.body.decision_id}`;
    expect(rows[0]!.break_glass).toBe(true);
    // For any other purpose the activation counts for nothing: identifiers stay out of training.
    const training = await decide(doc.id, { columns: ['patient_name', 'note_text'] });
    expect(training.body.effect).toBe('deny');
    expect(training.body.break_glass).toBe(false);

    const open = await app.call('GET', '/v1/break-glass?review=open', { token: rev.token });
    expect(open.body.items.map((g: any) => g.id)).toContain(r.body.id);
  });

  it('is refused to people the policy does not make eligible, beyond the cap, and without fresh MFA', async () => {
    const no = await app.call('POST', '/v1/break-glass', { token: ria.token, body: { project: 'onc', reason: 'I would like to look at the notes right now.' } });
    expect(no.status).toBe(403);
    expect((await auditOf('break_glass.activated')).some((e) => e.actor_id === ria.id && e.outcome === 'failure' && e.details.severity === 'critical')).toBe(true);
    const long = await app.call('POST', '/v1/break-glass', { token: doc.token, body: { project: 'onc', reason: 'Patient safety review of a model alert on ward 7.', duration_seconds: 3601 } });
    expect(long.status).toBe(400);
    const before = (await app.db.sql`SELECT count(*)::int AS n FROM grants WHERE principal_id = ${doc.id}`)[0]!.n;
    const lone = await app.call('POST', '/v1/break-glass', { token: doc.token, body: { project: 'onc', reason: 'Patient safety review of a model alert \ud800 on ward 7.' } });
    expect(lone.status).toBe(400);
    expect((await app.db.sql`SELECT count(*)::int AS n FROM grants WHERE principal_id = ${doc.id}`)[0]!.n).toBe(before);
    app.clock.advance(601_000);
    const stale = await app.call('POST', '/v1/break-glass', { token: doc.token, body: { project: 'onc', reason: 'Patient safety review of a model alert on ward 7.' } });
    expect(stale.body.code).toBe('step_up_required');
  });

  it('a security reviewer closes the review with a finding, once; nobody else can', async () => {
    const r = await app.call('POST', '/v1/break-glass', { token: doc.token, body: { dataset: 'onc-notes', reason: 'Investigating a misclassified sepsis alert, bed 12.' } });
    expect(r.status).toBe(201);
    const path = `/v1/break-glass/${r.body.id}/review`;
    const finding = { outcome: 'justified', finding: 'On-call record confirms the alert; access matched the incident.' };
    expect((await app.call('POST', path, { token: doc.token, body: finding })).status).toBe(403);
    const closed = await app.call('POST', path, { token: rev.token, body: finding });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body.review).toMatchObject({ status: 'closed', outcome: 'justified', closed_by: rev.id });
    expect((await app.call('POST', path, { token: rev.token, body: finding })).status).toBe(409);
    expect((await auditOf('break_glass.reviewed')).some((e) => e.actor_id === rev.id && e.details.grant_id === r.body.id)).toBe(true);
  });
});

describe('webhook delivery', () => {
  it('retries a failing receiver with backoff and records each delivery', async () => {
    hooks.failNext(2);
    const r = await file(ria, {});
    const ok = await hooks.waitFor('access_request.created', (n) => n.body.data.request.id === r.body.id);
    const attempts = hooks.received.filter((n) => n.delivery === ok.delivery);
    expect(attempts.map((a) => a.status)).toEqual([500, 500, 204]);
    expect(attempts.every((a) => a.signatureValid)).toBe(true);
    // The receiver has answered; the notifier records the delivery right after it reads that answer.
    await vi.waitFor(async () => {
      const [row] = await app.db.sql`SELECT status, attempts, last_status, delivered_at FROM webhook_deliveries WHERE id = ${ok.delivery}`;
      expect(row).toMatchObject({ status: 'delivered', attempts: 3, last_status: 204 });
    }, { timeout: 5000, interval: 50 });
  });

  it('signs with HMAC-SHA256 over the timestamp and the raw body', async () => {
    const { signWebhook } = await import('../../src/grants/webhook.ts');
    const { verifySignature } = await import('./webhookReceiver.ts');
    const t = Math.floor(Date.now() / 1000);
    const body = '{"event":"x"}';
    expect(verifySignature('k'.repeat(32), signWebhook('k'.repeat(32), t, body), body)).toBe(true);
    expect(verifySignature('k'.repeat(32), signWebhook('k'.repeat(32), t, body), body.replace('x', 'y'))).toBe(false);
    expect(verifySignature('k'.repeat(32), signWebhook('j'.repeat(32), t, body), body)).toBe(false);
  });
});
