/**
 * The alert stream over real HTTP (Server-Sent Events): events from any
 * replica and any detector connection, `id:` lines and Last-Event-ID replay,
 * heartbeats, a stream that outlives the request deadline and node's
 * request timeout, and its end when the client leaves, when the server
 * stops, and when the caller's access ends.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { createRequestListener } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';
import { wire, type Wired } from '../../src/wire.ts';
import { personDirect, startTestApp, TEST_KEY, type Person, type TestApp } from '../support/app.ts';
import { openStream, raiseAlert, type SseClient } from './alerts.ts';

let app: TestApp;
let rev1: Person;
let rev2: Person;
let nobody: Person;
/** Another connection, as a detector on another replica would use. */
let detector: Sql;

/** A second replica on the same database: its own pool, feed and HTTP server (node timeouts as main.ts sets them, shorter). */
interface Replica {
  url: string;
  wired: Wired;
  server: Server;
  close(): Promise<void>;
}
const replicas: Replica[] = [];

async function startReplica(): Promise<Replica> {
  const sql = createSql({ url: app.db.url, max: 3, role: 'custos_app' });
  const wired = wire({ config: app.config, sql, log: createLogger({ level: 'silent' }), encryptionKey: TEST_KEY, clock: app.clock });
  // As main.ts does, but far shorter: node's own limits must not cut a long-lived stream.
  const server = createServer({ requestTimeout: 600, headersTimeout: 500 }, createRequestListener(wired.app));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const r: Replica = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    wired,
    server,
    async close() {
      await wired.alertFeed.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sql.end({ timeout: 5 });
    },
  };
  replicas.push(r);
  return r;
}

const open: SseClient[] = [];
async function stream(url: string, who: Person, lastEventId?: string): Promise<SseClient> {
  const s = await openStream(url, who.token, lastEventId);
  open.push(s);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // Heartbeats every second; a request deadline far shorter than a stream lives.
  app = await startTestApp({ CUSTOS_ALERT_STREAM_HEARTBEAT_SECONDS: '1', CUSTOS_REQUEST_TIMEOUT_MS: '1000' });
  rev1 = await personDirect(app, 'rev1', [{ role: 'security-reviewer' }]);
  rev2 = await personDirect(app, 'rev2', [{ role: 'security-reviewer' }]);
  nobody = await personDirect(app, 'nobody');
  detector = createSql({ url: app.db.url, max: 1, role: 'custos_app' });
});

afterEach(async () => {
  // Each test starts with no stream of this process open (the per-principal cap counts them).
  for (const s of open.splice(0)) s.close();
  await expect.poll(() => app.wired.alertFeed.size).toBe(0);
});

afterAll(async () => {
  for (const r of replicas) await r.close();
  await detector?.end({ timeout: 5 });
  await app?.wired.alertFeed.close();
  await app?.close();
});

const raise = (subject = randomUUID(), dedupeKey = `k:${randomUUID()}`) => raiseAlert(detector, { subject, dedupeKey, at: app.clock.now() });

describe('the alert stream', () => {
  it('sends an event when a detector on another connection raises an alert, and when a reviewer acknowledges it', async () => {
    const s = await stream(app.url, rev1);
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(s.headers.get('cache-control')).toBe('no-store');
    await expect.poll(() => s.comments).toContain('connected');

    const { id } = await raise();
    const raised = await s.next((e) => e.data?.alert?.id === id);
    expect(raised.event).toBe('raised');
    expect(raised.data).toMatchObject({ event: 'raised', alert: { id, status: 'open', occurrences: 1 } });
    expect(raised.id).toBe(raised.data.alert.revision);

    const ack = await app.call('POST', `/v1/alerts/${id}/acknowledge`, { token: rev2.token });
    expect(ack.status).toBe(200);
    const acked = await s.next((e) => e.data?.alert?.id === id && e.event === 'acknowledged');
    expect(acked.data.alert).toMatchObject({ status: 'acknowledged', acknowledged_by: rev2.id });
    expect(BigInt(acked.id!)).toBeGreaterThan(BigInt(raised.id!));
  });

  it('sends repeats, assignments and resolutions, in commit order, from another replica too', async () => {
    const b = await startReplica();
    const onA = await stream(app.url, rev1);
    const onB = await stream(b.url, rev1);
    await expect.poll(() => onB.comments).toContain('connected');
    const subject = randomUUID();
    const key = `k:${randomUUID()}`;
    const { id } = await raise(subject, key);
    expect((await raise(subject, key)).event).toBe('repeated');
    // The change is made on replica B; both replicas' streams hear of it.
    expect((await app.call('POST', `/v1/alerts/${id}/acknowledge`, { token: rev2.token })).status).toBe(200);
    const asg = await fetch(`${b.url}/v1/alerts/${id}/assign`, { method: 'POST', headers: { authorization: `Bearer ${rev2.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ assignee_id: rev1.id }) });
    expect(asg.status).toBe(200);
    const res = await fetch(`${b.url}/v1/alerts/${id}/resolve`, { method: 'POST', headers: { authorization: `Bearer ${rev2.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ finding: 'Known batch job.' }) });
    expect(res.status).toBe(200);
    for (const s of [onA, onB]) {
      await s.next((e) => e.data?.alert?.id === id && e.event === 'resolved');
      const mine = s.events.filter((e) => e.data?.alert?.id === id);
      expect(mine.map((e) => e.event)).toEqual(['raised', 'repeated', 'acknowledged', 'assigned', 'resolved']);
      const ids = mine.map((e) => BigInt(e.id!));
      expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : 1)));
    }
  });

  it('replays what a reconnecting client missed (Last-Event-ID), then goes on live, nothing twice', async () => {
    const s = await stream(app.url, rev1);
    await expect.poll(() => s.comments).toContain('connected');
    const first = await raise();
    const seen = await s.next((e) => e.data?.alert?.id === first.id);
    s.close();

    // Missed while away: a raise, a raise then its acknowledgement, and a change to the first alert.
    const second = await raise();
    const third = await raise();
    expect((await app.call('POST', `/v1/alerts/${third.id}/acknowledge`, { token: rev2.token })).status).toBe(200);
    expect((await app.call('POST', `/v1/alerts/${first.id}/acknowledge`, { token: rev2.token })).status).toBe(200);

    const back = await stream(app.url, rev1, seen.id);
    const replayed = await back.next((e) => e.data?.alert?.id === first.id);
    // Every change, in commit order, each with the alert as it stood after it.
    expect(back.events.map((e) => [e.data.alert.id, e.event, e.data.alert.status])).toEqual([
      [second.id, 'raised', 'open'],
      [third.id, 'raised', 'open'],
      [third.id, 'acknowledged', 'acknowledged'],
      [first.id, 'acknowledged', 'acknowledged'],
    ]);
    // Live again after the replay.
    const fourth = await raise();
    await back.next((e) => e.data?.alert?.id === fourth.id);
    const ids = back.events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(BigInt(replayed.id!)).toBeGreaterThan(BigInt(seen.id!));
    const [opened] = await app.db.sql`SELECT details FROM audit_events WHERE type = 'alerts.stream.opened' AND details->>'last_event_id' = ${seen.id!}`;
    expect(opened).toBeDefined();
  });

  it('refuses a Last-Event-ID that is not one of its ids', async () => {
    for (const bad of ['abc', '-1', '1 OR 1=1', '99999999999999999999']) {
      const s = await stream(app.url, rev1, bad);
      expect(s.status, bad).toBe(400);
    }
  });

  it('sends heartbeats and outlives the request deadline and node request timeout', async () => {
    const b = await startReplica();
    const onA = await stream(app.url, rev1);
    const onB = await stream(b.url, rev1);
    // Well past the 1 s deadline, node's 600 ms request timeout, and a heartbeat.
    await sleep(2300);
    for (const s of [onA, onB]) expect(s.comments.filter((c) => c === 'heartbeat').length).toBeGreaterThanOrEqual(1);
    const { id } = await raise();
    await onA.next((e) => e.data?.alert?.id === id);
    await onB.next((e) => e.data?.alert?.id === id);
  });

  it('one listener per process, whatever the number of streams; a client that leaves is let go', async () => {
    const listeners = async () =>
      (await app.db.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${app.db.name} AND query ILIKE 'LISTEN custos_alerts%'`)[0]!.n as number;
    const a = await stream(app.url, rev1);
    const b = await stream(app.url, rev2);
    await expect.poll(() => app.wired.alertFeed.size).toBe(2);
    // This process's one listener, plus one for each replica this file started (and has not stopped).
    expect(await listeners()).toBe(1 + replicas.length);
    a.close();
    b.close();
    await expect.poll(() => app.wired.alertFeed.size).toBe(0);
    await expect
      .poll(async () => (await app.db.sql`SELECT count(*)::int AS n FROM audit_events WHERE type = 'alerts.stream.closed' AND details->>'reason' = 'client closed'`)[0]!.n)
      .toBeGreaterThanOrEqual(2);
  });

  it('ends when the caller’s access ends (session revoked), saying why; an untouched stream stays', async () => {
    const victim = await personDirect(app, 'rev-revoked', [{ role: 'security-reviewer' }]);
    const control = await stream(app.url, rev1);
    const s = await stream(app.url, victim);
    await expect.poll(() => s.comments).toContain('connected');
    await app.wired.auth.store.revokeAllSessions(victim.id, app.clock.now());
    const end = await s.next((e) => e.event === 'end', 4000);
    expect(end.data).toEqual({ reason: 'access ended: session revoked' });
    expect(await s.ended(2000)).toBe(true);
    expect(await control.ended(1500)).toBe(false);
  });

  it('ends when the person is disabled or loses the permission', async () => {
    const a = await personDirect(app, 'rev-disabled', [{ role: 'security-reviewer' }]);
    const b = await personDirect(app, 'rev-demoted', [{ role: 'security-reviewer' }]);
    const sa = await stream(app.url, a);
    const sb = await stream(app.url, b);
    await app.wired.catalog.updatePrincipal(a.id, { status: 'disabled' });
    const held = await app.wired.catalog.listRoleAssignments({ principalId: b.id, limit: 10 });
    for (const x of held.items) await app.wired.catalog.removeRoleAssignment(x.id);
    expect((await sa.next((e) => e.event === 'end', 4000)).data).toEqual({ reason: 'access ended: principal disabled' });
    expect((await sb.next((e) => e.event === 'end', 4000)).data).toEqual({ reason: 'access ended: audit:read no longer held' });
  });

  it('needs audit:read, and caps the streams one principal holds at once', async () => {
    expect((await stream(app.url, nobody)).status).toBe(403);
    expect((await fetch(`${app.url}/v1/alerts/stream`)).status).toBe(401);
    const capper = await personDirect(app, 'rev-many', [{ role: 'security-reviewer' }]);
    const held: SseClient[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await stream(app.url, capper);
      expect(s.status).toBe(200);
      held.push(s);
    }
    const fifth = await stream(app.url, capper);
    expect(fifth.status).toBe(429);
    // Others are not affected, and a freed slot can be used again.
    expect((await stream(app.url, rev2)).status).toBe(200);
    held[0]!.close();
    await expect.poll(async () => (await stream(app.url, capper)).status).toBe(200);
  });

  it('ends every stream when the server stops, saying so', async () => {
    const b = await startReplica();
    const s = await stream(b.url, rev1);
    await expect.poll(() => s.comments).toContain('connected');
    await b.wired.alertFeed.close();
    expect((await s.next((e) => e.event === 'end')).data).toEqual({ reason: 'server stopping' });
    expect(await s.ended(2000)).toBe(true);
  });
  // Last: it moves the clock past every session's idle timeout.
  it('an open stream does not keep an idle session alive', async () => {
    const idle = await personDirect(app, 'rev-idle', [{ role: 'security-reviewer' }]);
    const s = await stream(app.url, idle);
    await expect.poll(() => s.comments).toContain('connected');
    app.clock.advance((app.config.idleTimeoutSeconds + 1) * 1000);
    const end = await s.next((e) => e.event === 'end', 4000);
    expect(end.data.reason).toMatch(/^access ended: (session idle|access token expired)$/);
  });

});
