/**
 * Just-in-time access under attack, over HTTP against a real database:
 * approvals whose approver has since lost the approving role do not count;
 * a pending request lapses (checked at use, against the server clock);
 * self-approval and reviewing one's own break-glass are refused by their
 * own checks, with everything else in place; and a change whose audit event
 * cannot be written does not happen (503, nothing changed).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { withAuditAppendRefused } from '../support/db.ts';
import { startReceiver, type Receiver } from './webhookReceiver.ts';

const TTL = 3600;
let app: TestApp;
let hooks: Receiver;
let ria: Person; // requester without standing roles
let apa: Person; // approver, loses the role in one test
let apb: Person; // approver
let apc: Person; // approver
let ava: Person; // approver who files a request of her own
let rex: Person; // security reviewer who is also a data scientist of onc (eligible for break-glass)
let rev: Person; // security reviewer

const JUSTIFY = 'Retraining the sepsis model on the Q3 oncology notes (ticket ML-4411).';
const file = (p: Person, body: Record<string, unknown> = {}) =>
  app.call('POST', '/v1/access-requests', { token: p.token, body: { role: 'data-scientist', project: 'onc', duration_seconds: 7200, justification: JUSTIFY, ...body } });
const approve = (p: Person, id: string) => app.call('POST', `/v1/access-requests/${id}/approve`, { token: p.token, body: {} });
const show = (p: Person, id: string) => app.call('GET', `/v1/access-requests/${id}`, { token: p.token });
const events = (type: string) => app.db.sql`SELECT * FROM audit_events WHERE type = ${type} ORDER BY at, id`;

beforeAll(async () => {
  hooks = await startReceiver();
  app = await startTestApp({
    CUSTOS_WEBHOOK_URL: hooks.url,
    CUSTOS_WEBHOOK_SECRET: hooks.secret,
    CUSTOS_ACCESS_REQUEST_TTL_SECONDS: String(TTL),
    CUSTOS_IDLE_TIMEOUT_SECONDS: '86400',
    CUSTOS_SESSION_TTL_SECONDS: '86400',
    CUSTOS_SESSION_MAX_SECONDS: '86400',
  });
  await app.wired.catalog.createProject({ id: 'onc', name: 'Oncology' });
  ria = await personDirect(app, 'ria');
  apa = await personDirect(app, 'apa', [{ role: 'approver' }]);
  apb = await personDirect(app, 'apb', [{ role: 'approver' }]);
  apc = await personDirect(app, 'apc', [{ role: 'approver', project: 'onc' }]);
  ava = await personDirect(app, 'ava', [{ role: 'approver' }]);
  rex = await personDirect(app, 'rex', [{ role: 'security-reviewer' }, { role: 'data-scientist', project: 'onc' }]);
  rev = await personDirect(app, 'rev', [{ role: 'security-reviewer' }]);
});
// Fresh sessions (and so fresh MFA) for every test: some move the clock far ahead.
beforeEach(async () => {
  for (const p of [ria, apa, apb, apc, ava, rex, rev]) await loginAs(app, p);
});
afterAll(async () => {
  await app?.close();
  await hooks?.close();
});

describe('self-approval', () => {
  it('is refused as such to a requester who holds an approving role', async () => {
    const r = await file(ava);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const self = await approve(ava, r.body.id);
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('forbidden');
    expect(self.body.detail).toContain('it is your own request');
    const refusals = (await events('access_request.approve')).filter((e) => e.actor_id === ava.id && e.details.request_id === r.body.id);
    expect(refusals.map((e) => [e.outcome, e.details.reason])).toEqual([['failure', 'it is your own request']]);
    const now = await show(ava, r.body.id);
    expect(now.body).toMatchObject({ status: 'pending', approvals: [] });
  });
});

describe('approving for an account you could be', () => {
  it('is refused as such to an approver who received the requester’s enrollment secret', async () => {
    // Apb issues a person's secret (as an administrator would when creating them) and could have enrolled as them.
    const { issueEnrollment } = await import('../../src/auth/enrollment.ts');
    const { enrollPerson } = await import('../support/app.ts');
    const p = await app.wired.catalog.createPrincipal({ kind: 'user', name: 'puppet' });
    const issued = await issueEnrollment(app.wired.auth, { principalId: p.id, actorId: apb.id, meta: undefined });
    const puppet = await enrollPerson(app, { id: p.id, username: 'puppet', secret: issued.secret });
    const r = await file(puppet);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const own = await approve(apb, r.body.id);
    expect(own.status).toBe(403);
    expect(own.body.detail).toContain("you received the requester's enrollment secret");
    const refusals = (await events('access_request.approve')).filter((e) => e.actor_id === apb.id && e.details.request_id === r.body.id);
    expect(refusals.map((e) => e.details.reason)).toEqual(["you received the requester's enrollment secret"]);
    // Another approver, who never held the secret, counts.
    const other = await approve(apa, r.body.id);
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    expect(other.body.counted).toBe(true);
  });
});

describe('reviewing a break-glass activation', () => {
  it('is refused as such to a security reviewer reviewing their own activation', async () => {
    const bg = await app.call('POST', '/v1/break-glass', { token: rex.token, body: { project: 'onc', reason: 'Patient safety review of a model alert on ward 7, on call.' } });
    expect(bg.status, JSON.stringify(bg.body)).toBe(201);
    const own = await app.call('POST', `/v1/break-glass/${bg.body.id}/review`, { token: rex.token, body: { outcome: 'justified', finding: 'I was on call and the alert was real, trust me.' } });
    expect(own.status).toBe(403);
    expect(own.body.detail).toBe('You may not review your own break-glass activation.');
    const refusals = (await events('break_glass.reviewed')).filter((e) => e.actor_id === rex.id && e.details.grant_id === bg.body.id);
    expect(refusals.map((e) => [e.outcome, e.details.reason])).toEqual([['failure', 'own activation']]);
    const still = await app.call('GET', `/v1/grants/${bg.body.id}`, { token: rev.token });
    expect(still.body.review).toMatchObject({ status: 'open', closed_by: null });
  });
});

describe('approvals in force', () => {
  it('an approval whose approver has since lost the approving role does not count, and says why', async () => {
    const r = await file(ria);
    expect((await approve(apa, r.body.id)).status).toBe(200);
    const [assignment] = await app.db.sql`SELECT id FROM role_assignments WHERE principal_id = ${apa.id} AND role_id = 'approver'`;
    await app.wired.catalog.removeRoleAssignment(assignment!.id);

    const second = await approve(apb, r.body.id);
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.status).toBe('pending');
    expect(second.body.grant).toBeNull();
    expect(second.body.discounted).toEqual([{ approver_id: apa.id, reason: expect.stringContaining('no longer holds an approving role') }]);
    expect((await app.db.sql`SELECT count(*)::int AS n FROM grants WHERE request_id = ${r.body.id}`)[0]!.n).toBe(0);
    const [recorded] = (await events('access_request.approval_recorded')).filter((e) => e.actor_id === apb.id && e.details.request_id === r.body.id);
    expect(recorded!.details).toMatchObject({ approvals: 1, approvals_required: 2, discounted: [{ approver_id: apa.id }] });
    const seen = await show(ria, r.body.id);
    expect(seen.body.discounted.map((d: { approver_id: string }) => d.approver_id)).toEqual([apa.id]);

    // A second approver who still holds the role completes it.
    const third = await approve(apc, r.body.id);
    expect(third.body.status).toBe('approved');
    const [approved] = (await events('access_request.approved')).filter((e) => e.details.request_id === r.body.id);
    expect(approved!.details).toMatchObject({ approvals: 2, discounted: [{ approver_id: apa.id }] });
  });
});

describe('a scheduled grant as it takes effect', () => {
  it('is revoked, not activated, when an approval behind it is no longer in force', async () => {
    const kim = await personDirect(app, 'kim');
    const apd = await personDirect(app, 'apd', [{ role: 'approver', project: 'onc' }]);
    const start = new Date(app.clock.now().getTime() + 1800_000);
    start.setUTCMilliseconds(0);
    const r = await file(kim, { starts_at: start.toISOString(), duration_seconds: 3600 });
    expect((await approve(apd, r.body.id)).status).toBe(200);
    const done = await approve(apb, r.body.id);
    expect(done.body.grant).toMatchObject({ state: 'scheduled', not_before: start.toISOString() });
    const [assignment] = await app.db.sql`SELECT id FROM role_assignments WHERE principal_id = ${apd.id} AND role_id = 'approver'`;
    await app.wired.catalog.removeRoleAssignment(assignment!.id);

    app.clock.set(start.getTime());
    await app.wired.notifier.pass();
    const g = await app.call('GET', `/v1/grants/${done.body.grant.id}`, { token: rev.token });
    expect(g.body).toMatchObject({ status: 'revoked', state: 'revoked', revoke_reason: 'approvals no longer in force at activation' });
    const [ev] = (await events('grant.revoked')).filter((e) => e.details.grant_id === done.body.grant.id);
    expect(ev).toMatchObject({ actor_id: null, subject_id: kim.id, outcome: 'success' });
    expect(ev!.details.discounted).toEqual([{ approver_id: apd.id, reason: expect.stringContaining('no longer holds an approving role') }]);
    await hooks.waitFor('grant.revoked', (n) => n.body.data.grant.id === done.body.grant.id);
    expect(hooks.received.some((n) => n.body.event === 'grant.activated' && n.body.data.grant.id === done.body.grant.id)).toBe(false);
  });
});

describe('a pending request lapses', () => {
  it('is approvable one second before its expiry, refused at it, shown and announced as expired once', async () => {
    const early = await file(ria);
    const expires = Date.parse(early.body.expires_at);
    expect(expires - Date.parse(early.body.created_at)).toBe(TTL * 1000);
    // Logging in moves the clock 30 s on: the approval lands at expiry − 1 s.
    app.clock.set(expires - 31_000);
    await loginAs(app, apb);
    expect(app.clock.now().getTime()).toBe(expires - 1000);
    expect((await approve(apb, early.body.id)).status).toBe(200);

    const r = await file(ria);
    const at = Date.parse(r.body.expires_at);
    app.clock.set(at);
    for (const p of [ria, apa, apb, apc]) await loginAs(app, p);
    const listed = await app.call('GET', '/v1/access-requests?view=mine&status=expired', { token: ria.token });
    expect(listed.body.items.find((x: { id: string }) => x.id === r.body.id)).toMatchObject({ status: 'expired' });
    const pending = await app.call('GET', '/v1/access-requests?view=to-approve', { token: apb.token });
    expect(pending.body.items.map((x: { id: string }) => x.id)).not.toContain(r.body.id);

    const late = await approve(apb, r.body.id);
    expect(late.status).toBe(409);
    expect(late.body.detail).toContain('expired');
    expect((await approve(apc, r.body.id)).status).toBe(409);
    const cancel = await app.call('POST', `/v1/access-requests/${r.body.id}/cancel`, { token: ria.token });
    expect(cancel.status).toBe(409);
    const seen = await show(ria, r.body.id);
    expect(seen.body).toMatchObject({ status: 'expired', approvals: [], grant: null });
    expect(seen.body.history.map((h: { event: string }) => h.event)).toEqual(['requested', 'expired']);
    const expired = (await events('access_request.expired')).filter((e) => e.details.request_id === r.body.id);
    expect(expired).toHaveLength(1);
    expect(expired[0]!.subject_id).toBe(ria.id);
    await hooks.waitFor('access_request.expired', (n) => n.body.data.request.id === r.body.id);
    expect((await app.db.sql`SELECT count(*)::int AS n FROM grants WHERE request_id = ${r.body.id}`)[0]!.n).toBe(0);
  });
});

describe('a change and its audit event', () => {
  it('an approval whose audit event cannot be written answers 503 and leaves the request unchanged', async () => {
    const r = await file(ria);
    expect((await approve(apc, r.body.id)).status).toBe(200);
    const before = await show(ria, r.body.id);
    const failed = await withAuditAppendRefused(app.db.sql, () => approve(apb, r.body.id));
    expect(failed.status).toBe(503);
    expect(failed.body.code).toBe('audit_unavailable');
    const after = await show(ria, r.body.id);
    expect(after.body).toEqual({ ...before.body });
    expect((await app.db.sql`SELECT count(*)::int AS n FROM grants WHERE request_id = ${r.body.id}`)[0]!.n).toBe(0);
    expect((await app.db.sql`SELECT count(*)::int AS n FROM webhook_deliveries WHERE event = 'access_request.approved' AND payload->'data'->'request'->>'id' = ${r.body.id}`)[0]!.n).toBe(0);
    // Once the log takes events again, the same approval goes through.
    const ok = await approve(apb, r.body.id);
    expect(ok.body.status).toBe('approved');
  });
});
