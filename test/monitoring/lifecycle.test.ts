/**
 * The alert lifecycle over real HTTP: open → acknowledged → resolved with a
 * finding, with an assignee; illegal transitions answer 409 with the
 * reason; every change commits with its audit event and its notification,
 * or neither does; nobody works an alert about themselves; reads need
 * `audit:read` and changes `alerts:manage`. Each refusal test shows that the
 * same request succeeds for someone the check does not concern.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAs, personDirect, startTestApp, type Person, type TestApp } from '../support/app.ts';
import { appendLogRows, withAuditAppendRefused } from '../support/db.ts';
import { raiseAlert } from './alerts.ts';

let app: TestApp;
let rev1: Person;
let rev2: Person;
let rev3: Person;
let ops: Person;
let nobody: Person;

beforeAll(async () => {
  app = await startTestApp();
  rev1 = await personDirect(app, 'rev1', [{ role: 'security-reviewer' }]);
  rev2 = await personDirect(app, 'rev2', [{ role: 'security-reviewer' }]);
  rev3 = await personDirect(app, 'rev3', [{ role: 'security-reviewer' }]);
  ops = await personDirect(app, 'ops', [{ role: 'system-administrator' }]);
  nobody = await personDirect(app, 'nobody');
  await app.wired.catalog.createProject({ id: 'mon', name: 'Monitoring' });
});

afterAll(async () => {
  await app?.wired.alertFeed.close();
  await app?.close();
});

const raise = (subject: string, extra: Parameters<typeof raiseAlert>[1] extends infer O ? Partial<O> : never = {}) =>
  raiseAlert(app.db.appSql, { subject, dedupeKey: `k:${randomUUID()}`, at: app.clock.now(), ...extra });
const post = (who: Person, path: string, body?: unknown) => app.call('POST', path, { token: who.token, body });
const get = (who: Person, path: string) => app.call('GET', path, { token: who.token });

async function eventsOf(alertId: string): Promise<{ type: string; outcome: string; actor_id: string | null; details: any }[]> {
  return app.db.sql`SELECT type, outcome, actor_id, details FROM audit_events WHERE subject_id = ${alertId} ORDER BY at, seq`;
}

describe('the lifecycle', () => {
  it('open → acknowledged → assigned → resolved, each with its audit event and notification', async () => {
    const { id } = await raise(randomUUID());
    const notes: string[] = [];
    const listen = await app.db.sql.listen('custos_alerts', (p) => notes.push(p));

    const ack = await post(rev1, `/v1/alerts/${id}/acknowledge`);
    expect(ack.status, JSON.stringify(ack.body)).toBe(200);
    expect(ack.body).toMatchObject({ id, status: 'acknowledged', acknowledged_by: rev1.id, last_event: 'acknowledged' });

    const asg = await post(rev1, `/v1/alerts/${id}/assign`, { assignee_id: rev2.id });
    expect(asg.status, JSON.stringify(asg.body)).toBe(200);
    expect(asg.body).toMatchObject({ status: 'acknowledged', assignee_id: rev2.id, assigned_by: rev1.id, last_event: 'assigned' });

    const res = await post(rev2, `/v1/alerts/${id}/resolve`, { finding: 'Load test from the ML platform team; ticket OPS-12.' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'resolved', resolved_by: rev2.id, finding: 'Load test from the ML platform team; ticket OPS-12.', last_event: 'resolved' });
    expect(BigInt(res.body.revision)).toBeGreaterThan(BigInt(asg.body.revision));
    expect(BigInt(asg.body.revision)).toBeGreaterThan(BigInt(ack.body.revision));

    await expect.poll(() => notes.length).toBe(3);
    expect(notes.map((n) => JSON.parse(n))).toEqual([
      { id, event: 'acknowledged' },
      { id, event: 'assigned' },
      { id, event: 'resolved' },
    ]);
    await listen.unlisten();

    const events = await eventsOf(id);
    expect(events.map((e) => [e.type, e.outcome, e.actor_id])).toEqual([
      ['alert.acknowledged', 'success', rev1.id],
      ['alert.assigned', 'success', rev1.id],
      ['alert.resolved', 'success', rev2.id],
    ]);
    expect(events[1]!.details).toMatchObject({ alert_id: id, assignee_id: rev2.id });
    expect(events[2]!.details).toMatchObject({ status_before: 'acknowledged', status_after: 'resolved', finding: 'Load test from the ML platform team; ticket OPS-12.' });
  });

  it('illegal transitions answer 409 with the reason, and are recorded', async () => {
    const { id } = await raise(randomUUID());
    const early = await post(rev1, `/v1/alerts/${id}/resolve`, { finding: 'nothing' });
    expect(early.status).toBe(409);
    expect(early.body.detail).toMatch(/not acknowledged yet/);

    expect((await post(rev1, `/v1/alerts/${id}/acknowledge`)).status).toBe(200);
    const again = await post(rev1, `/v1/alerts/${id}/acknowledge`);
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/already acknowledged/);

    expect((await post(rev1, `/v1/alerts/${id}/resolve`, { finding: 'benign' })).status).toBe(200);
    const twice = await post(rev2, `/v1/alerts/${id}/resolve`, { finding: 'benign too' });
    expect(twice.status).toBe(409);
    expect(twice.body.detail).toMatch(/already resolved/);
    const ackResolved = await post(rev2, `/v1/alerts/${id}/acknowledge`);
    expect(ackResolved.status).toBe(409);
    expect(ackResolved.body.detail).toMatch(/resolved alert cannot be acknowledged/);
    const assignResolved = await post(rev2, `/v1/alerts/${id}/assign`, { assignee_id: rev3.id });
    expect(assignResolved.status).toBe(409);
    expect(assignResolved.body.detail).toMatch(/resolved alert cannot be assigned/);

    // The state is what the legal transitions made it, and the refusals are on record.
    const now = await get(rev1, `/v1/alerts/${id}`);
    expect(now.body).toMatchObject({ status: 'resolved', finding: 'benign', resolved_by: rev1.id, assignee_id: null });
    const failures = (await eventsOf(id)).filter((e) => e.outcome === 'failure').map((e) => e.type);
    expect(failures).toEqual(['alert.resolved', 'alert.acknowledged', 'alert.resolved', 'alert.acknowledged', 'alert.assigned']);
  });

  it('two reviewers resolving at once: one wins, the other gets 409', async () => {
    const { id } = await raise(randomUUID());
    expect((await post(rev1, `/v1/alerts/${id}/acknowledge`)).status).toBe(200);
    const [a, b] = await Promise.all([post(rev1, `/v1/alerts/${id}/resolve`, { finding: 'one' }), post(rev2, `/v1/alerts/${id}/resolve`, { finding: 'two' })]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const [row] = await app.db.sql`SELECT count(*)::int AS n FROM audit_events WHERE subject_id = ${id} AND type = 'alert.resolved' AND outcome = 'success'`;
    expect(row!.n).toBe(1);
  });

  it('a finding is required, storable text; unknown fields and ids are refused before anything is written', async () => {
    const { id } = await raise(randomUUID());
    expect((await post(rev1, `/v1/alerts/${id}/acknowledge`)).status).toBe(200);
    for (const body of [{}, { finding: '' }, { finding: '   ' }, { finding: 'a\u0000b' }, { finding: '\ud800' }, { finding: 'x'.repeat(4001) }, { finding: 'ok', status: 'open' }]) {
      const r = await post(rev1, `/v1/alerts/${id}/resolve`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await post(rev1, `/v1/alerts/not-a-uuid/acknowledge`)).status).toBe(400);
    expect((await post(rev1, `/v1/alerts/${randomUUID()}/acknowledge`)).status).toBe(404);
    expect((await get(rev1, `/v1/alerts/${id}`)).body.status).toBe('acknowledged');
  });

  it('a change whose audit event cannot be written does not happen, and announces nothing', async () => {
    const { id } = await raise(randomUUID());
    const notes: string[] = [];
    const listen = await app.db.sql.listen('custos_alerts', (p) => notes.push(p));
    const r = await withAuditAppendRefused(app.db.sql, () => post(rev1, `/v1/alerts/${id}/acknowledge`));
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('audit_unavailable');
    const [row] = await app.db.sql`SELECT status, acknowledged_by FROM alerts WHERE id = ${id}`;
    expect(row).toEqual({ status: 'open', acknowledged_by: null });
    // A barrier: our own notification comes back after anything committed before it.
    await app.db.sql`SELECT pg_notify('custos_alerts', 'barrier')`;
    await expect.poll(() => notes.includes('barrier')).toBe(true);
    expect(notes).toEqual(['barrier']);
    await listen.unlisten();
    // And once the log takes events again, the same change goes through.
    expect((await post(rev1, `/v1/alerts/${id}/acknowledge`)).status).toBe(200);
  });
});

describe('assignees', () => {
  it('must be active people holding alerts:manage', async () => {
    const { id } = await raise(randomUUID());
    for (const [assignee, why] of [
      [ops.id, 'does not hold alerts:manage'],
      [nobody.id, 'does not hold alerts:manage'],
      [randomUUID(), 'no such principal'],
    ] as const) {
      const r = await post(rev1, `/v1/alerts/${id}/assign`, { assignee_id: assignee });
      expect(r.status, why).toBe(400);
      expect(JSON.stringify(r.body.errors ?? r.body)).toContain(why);
    }
    // A service, even one holding the reviewer role, is no assignee: alerts are worked by people.
    const svc = await app.wired.catalog.createPrincipal({ kind: 'service', name: 'svc-a', sponsor_id: rev3.id, project_id: 'mon' });
    await app.wired.catalog.assignRole({ principal_id: svc.id, role_id: 'security-reviewer', project_id: null }, null);
    const r = await post(rev1, `/v1/alerts/${id}/assign`, { assignee_id: svc.id });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('not a person');
    // The same alert goes to a reviewer, and then to another.
    expect((await post(rev1, `/v1/alerts/${id}/assign`, { assignee_id: rev2.id })).status).toBe(200);
    const same = await post(rev1, `/v1/alerts/${id}/assign`, { assignee_id: rev2.id });
    expect(same.status).toBe(409);
    expect((await post(rev1, `/v1/alerts/${id}/assign`, { assignee_id: rev1.id })).status).toBe(200);
  });

  it('a disabled reviewer cannot be assigned', async () => {
    const gone = await personDirect(app, 'rev-gone', [{ role: 'security-reviewer' }]);
    const { id } = await raise(randomUUID());
    await app.wired.catalog.updatePrincipal(gone.id, { status: 'disabled' });
    const r = await post(rev1, `/v1/alerts/${id}/assign`, { assignee_id: gone.id });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('disabled');
  });
});

describe('no one alone', () => {
  it("the alert's subject may not acknowledge it; another reviewer may", async () => {
    const { id } = await raise(rev1.id);
    const r = await post(rev1, `/v1/alerts/${id}/acknowledge`);
    expect(r.status).toBe(403);
    expect(r.body.detail).toMatch(/You are the subject of this alert/);
    expect((await get(rev1, `/v1/alerts/${id}`)).body.status).toBe('open');
    const [refusal] = (await eventsOf(id)).filter((e) => e.outcome === 'failure');
    expect(refusal).toMatchObject({ type: 'alert.acknowledged', actor_id: rev1.id, details: { reason: 'no-one-alone', who: 'actor', relation: 'subject' } });
    expect((await post(rev2, `/v1/alerts/${id}/acknowledge`)).status).toBe(200);
  });

  it("the alert's subject may not resolve it (with a fresh second factor and an acknowledged alert); another reviewer may", async () => {
    const { id } = await raise(rev1.id);
    expect((await post(rev2, `/v1/alerts/${id}/acknowledge`)).status).toBe(200);
    await loginAs(app, rev1);
    const r = await post(rev1, `/v1/alerts/${id}/resolve`, { finding: 'It was me, all fine.' });
    expect(r.status).toBe(403);
    expect(r.body.detail).toMatch(/You are the subject of this alert/);
    await loginAs(app, rev2);
    expect((await post(rev2, `/v1/alerts/${id}/resolve`, { finding: 'Checked with the manager.' })).status).toBe(200);
  });

  it("the alert's subject may not assign it, nor be assigned it", async () => {
    const { id } = await raise(rev1.id);
    const self = await post(rev1, `/v1/alerts/${id}/assign`, { assignee_id: rev2.id });
    expect(self.status).toBe(403);
    expect(self.body.detail).toMatch(/You are the subject/);
    const toSubject = await post(rev2, `/v1/alerts/${id}/assign`, { assignee_id: rev1.id });
    expect(toSubject.status).toBe(403);
    expect(toSubject.body.detail).toMatch(/The assignee is the subject/);
    expect((await get(rev2, `/v1/alerts/${id}`)).body.assignee_id).toBeNull();
    // rev1 is a fit assignee for an alert about someone else.
    const other = await raise(randomUUID());
    expect((await post(rev2, `/v1/alerts/${other.id}/assign`, { assignee_id: rev1.id })).status).toBe(200);
    expect((await post(rev2, `/v1/alerts/${id}/assign`, { assignee_id: rev3.id })).status).toBe(200);
  });

  it("a service's sponsor may not work an alert about the service", async () => {
    const svc = await app.wired.catalog.createPrincipal({ kind: 'service', name: 'train-job-7', sponsor_id: rev3.id, project_id: 'mon' });
    const { id } = await raise(svc.id);
    const r = await post(rev3, `/v1/alerts/${id}/acknowledge`);
    expect(r.status).toBe(403);
    expect(r.body.detail).toMatch(/sponsor of the subject/);
    const toSponsor = await post(rev2, `/v1/alerts/${id}/assign`, { assignee_id: rev3.id });
    expect(toSponsor.status).toBe(403);
    expect((await post(rev2, `/v1/alerts/${id}/acknowledge`)).status).toBe(200);
  });
});

describe('the API description', () => {
  it('/openapi.json documents every alert route', async () => {
    const doc = (await app.call('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths as object).filter((p) => p.startsWith('/v1/alerts')).sort()).toEqual([
      '/v1/alerts',
      '/v1/alerts/stream',
      '/v1/alerts/{id}',
      '/v1/alerts/{id}/acknowledge',
      '/v1/alerts/{id}/assign',
      '/v1/alerts/{id}/resolve',
    ]);
    expect(Object.keys(doc.paths['/v1/alerts/{id}/resolve'])).toEqual(['post']);
  });
});

describe('who may call', () => {
  it('reads need audit:read', async () => {
    const { id } = await raise(randomUUID());
    for (const who of [ops, nobody]) {
      expect((await get(who, '/v1/alerts')).status).toBe(403);
      expect((await get(who, `/v1/alerts/${id}`)).status).toBe(403);
    }
    expect((await app.call('GET', '/v1/alerts')).status).toBe(401);
    expect((await get(rev1, '/v1/alerts')).status).toBe(200);
    expect((await get(rev1, `/v1/alerts/${id}`)).status).toBe(200);
  });

  it('changes need alerts:manage (and resolving a fresh second factor)', async () => {
    const { id } = await raise(randomUUID());
    for (const who of [ops, nobody]) {
      const r = await post(who, `/v1/alerts/${id}/acknowledge`);
      expect(r.status).toBe(403);
      expect(r.body.detail).toBe('You are not allowed to do this.');
      expect((await post(who, `/v1/alerts/${id}/assign`, { assignee_id: rev2.id })).status).toBe(403);
    }
    expect((await app.call('POST', `/v1/alerts/${id}/acknowledge`)).status).toBe(401);
    expect((await post(rev1, `/v1/alerts/${id}/acknowledge`)).status).toBe(200);
    // Past the step-up window, resolving asks for a second factor again.
    app.clock.advance((app.config.stepUpSeconds + 1) * 1000);
    const stale = await loginAsStale(rev1);
    const r = await app.call('POST', `/v1/alerts/${id}/resolve`, { token: stale, body: { finding: 'fine' } });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('step_up_required');
    await loginAs(app, rev1);
    expect((await post(rev1, `/v1/alerts/${id}/resolve`, { finding: 'fine' })).status).toBe(200);
  });
});

/** A session that stays usable (refreshed) but whose second factor is older than the step-up window. */
async function loginAsStale(p: Person): Promise<string> {
  // Log in now, then move past the step-up window while keeping the session active.
  await loginAs(app, p);
  const token = p.token;
  const step = Math.floor((app.config.idleTimeoutSeconds * 1000) / 2);
  let left = (app.config.stepUpSeconds + 1) * 1000;
  while (left > 0) {
    const d = Math.min(step, left);
    app.clock.advance(d);
    left -= d;
    expect((await get(p, '/v1/alerts?limit=1')).status).toBe(200);
  }
  return token;
}

describe('listing and evidence', () => {
  it('filters, paginates with a cursor, shows grouping, and records each look', async () => {
    const subject = `dataset-${randomUUID().slice(0, 8)}`;
    const t0 = app.clock.now().getTime();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await raiseAlert(app.db.appSql, { subject, detector: 'export-volume', severity: i % 2 ? 'critical' : 'low', dedupeKey: `vol:${subject}:${i}`, at: new Date(t0 + i * 1000) });
      ids.push(r.id);
    }
    // A repeat of the first pattern is grouped into its alert by the detector.
    const again = await raiseAlert(app.db.appSql, { subject, detector: 'export-volume', severity: 'low', dedupeKey: `vol:${subject}:0`, at: new Date(t0 + 60_000) });
    expect(again).toEqual({ id: ids[0], event: 'repeated' });

    const all = await get(rev1, `/v1/alerts?subject=${subject}`);
    expect(all.status).toBe(200);
    expect(all.body.items.map((a: { id: string }) => a.id)).toEqual([...ids].reverse());
    const grouped = all.body.items.find((a: { id: string }) => a.id === ids[0]);
    expect(grouped).toMatchObject({ occurrences: 2, first_at: new Date(t0).toISOString(), last_at: new Date(t0 + 60_000).toISOString(), last_event: 'repeated' });

    const crit = await get(rev1, `/v1/alerts?subject=${subject}&severity=critical&order=asc`);
    expect(crit.body.items.map((a: { id: string }) => a.id)).toEqual([ids[1], ids[3]]);
    expect((await get(rev1, `/v1/alerts?subject=${subject}&detector=nope`)).body.items).toEqual([]);
    const ranged = await get(rev1, `/v1/alerts?subject=${subject}&from=${new Date(t0 + 2000).toISOString()}&to=${new Date(t0 + 4000).toISOString()}`);
    // Active in [t0+2s, t0+4s): the grouped first one (last seen later), and those first seen at 2s and 3s.
    expect(ranged.body.items.map((a: { id: string }) => a.id)).toEqual([ids[3], ids[2], ids[0]]);

    expect((await post(rev1, `/v1/alerts/${ids[2]}/assign`, { assignee_id: rev2.id })).status).toBe(200);
    expect((await get(rev1, `/v1/alerts?subject=${subject}&assignee=${rev2.id}`)).body.items.map((a: { id: string }) => a.id)).toEqual([ids[2]]);
    expect((await post(rev1, `/v1/alerts/${ids[4]}/acknowledge`)).status).toBe(200);
    expect((await get(rev1, `/v1/alerts?subject=${subject}&status=acknowledged`)).body.items.map((a: { id: string }) => a.id)).toEqual([ids[4]]);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: Awaited<ReturnType<typeof get>> = await get(rev1, `/v1/alerts?subject=${subject}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((a: { id: string }) => a.id));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);

    const [looked] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'alerts.query' AND actor_id = ${rev1.id} AND details->'filters'->>'severity' = 'critical'`;
    expect(looked!.details).toMatchObject({ filters: { subject, severity: 'critical', order: 'asc' }, rows: 2 });
  });

  it('refuses malformed filters and cursors; metacharacters select nothing extra', async () => {
    for (const qs of ['status=closed', 'severity=urgent', 'assignee=nope', 'from=yesterday', 'limit=0', 'limit=1001', 'cursor=%24%24', 'status=open&status=resolved', 'colour=red']) {
      expect((await get(rev1, `/v1/alerts?${qs}`)).status, qs).toBe(400);
    }
    await raise(randomUUID());
    for (const s of ["x' OR '1'='1", 'x%27%20OR%201%3D1--', '%25']) {
      const r = await get(rev1, `/v1/alerts?subject=${encodeURIComponent(s)}`);
      expect(r.status).toBe(200);
      expect(r.body.items).toEqual([]);
    }
  });

  it('an alert shows its evidence, read from the logs, with links that find each record', async () => {
    const subject = randomUUID();
    const at = app.clock.now();
    const decisionId = randomUUID();
    const eventId = randomUUID();
    const decisionAt = new Date(at.getTime() - 5000).toISOString();
    const eventAt = new Date(at.getTime() - 4000).toISOString();
    await appendLogRows(app.db.sql, 'decision_log', [
      {
        id: decisionId, at: decisionAt, request_id: null, caller_id: null, principal_id: subject, sponsor_id: null, dataset_id: 'notes', project_id: 'onc', action: 'dataset:read',
        purpose: 'model-training', effect: 'deny', rules: [], reasons: ['no active grant'], granted_columns: [], denied_columns: ['patient_name'], obligations: [], grant_ids: [],
        break_glass: false, policy_version: 'v1', latency_us: 10, input: {}, token_jti: null, token_expires_at: null, job: null,
      },
    ]);
    await appendLogRows(app.db.sql, 'audit_events', [{ id: eventId, at: eventAt, type: 'login.failure', outcome: 'failure', actor_id: null, subject_id: subject, details: {} }]);
    const missing = randomUUID();
    const { id } = await raise(subject, {
      evidence: [
        { log: 'decision_log', record_id: decisionId, at: decisionAt },
        { log: 'audit_events', record_id: eventId, at: eventAt },
        { log: 'decision_log', record_id: missing, at: eventAt },
      ],
    });
    const r = await get(rev1, `/v1/alerts/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.evidence_total).toBe(3);
    const byId = new Map(r.body.evidence.map((e: { record_id: string }) => [e.record_id, e]));
    expect(byId.get(decisionId)).toMatchObject({ log: 'decision_log', link: `/v1/decision-logs?decision=${decisionId}`, record: { id: decisionId, effect: 'deny', denied_columns: ['patient_name'] } });
    expect(byId.get(eventId)).toMatchObject({ log: 'audit_events', link: `/v1/audit-events?event=${eventId}`, record: { id: eventId, type: 'login.failure' } });
    expect(byId.get(missing)).toMatchObject({ record: null });
    for (const recordId of [decisionId, eventId]) {
      const followed = await get(rev1, (byId.get(recordId) as { link: string }).link);
      expect(followed.status).toBe(200);
      expect(followed.body.items.map((i: { id: string }) => i.id)).toEqual([recordId]);
    }
    const [viewed] = await app.db.sql`SELECT actor_id, details FROM audit_events WHERE type = 'alert.viewed' AND subject_id = ${id}`;
    expect(viewed).toMatchObject({ actor_id: rev1.id, details: { alert_id: id, evidence: 3, evidence_total: 3 } });
  });
});
