/**
 * The change feed's guarantees, at the database and in one process's
 * listener: revisions follow commit order even when writers interleave
 * (the write-order lock of migration 0026), the history of changes is
 * append-only for the application, and the listener catches up on what
 * committed while its connection was away.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import type { FeedEvent } from '../../src/monitoring/alertFeed.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { raiseAlert } from './alerts.ts';

let app: TestApp;
let writerA: Sql;
let writerB: Sql;

beforeAll(async () => {
  app = await startTestApp();
  writerA = createSql({ url: app.db.url, max: 1, role: 'custos_app' });
  writerB = createSql({ url: app.db.url, max: 1, role: 'custos_app' });
});

afterAll(async () => {
  await Promise.all([writerA?.end({ timeout: 5 }), writerB?.end({ timeout: 5 })]);
  await app?.wired.alertFeed.close();
  await app?.close();
});

/** Inserts an alert in a transaction that stays open `holdMs` after the insert; resolves with its revision. */
async function slowInsert(sql: Sql, holdMs: number, started: () => void): Promise<string> {
  return (await sql.begin(async (tx) => {
    const id = randomUUID();
    const [row] = await tx<{ revision: string }[]>`
      INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, first_at, last_at)
      VALUES (${id}, 'order-test', 'low', ${randomUUID()}, ${`o:${id}`}, 'order', now(), now()) RETURNING revision::text AS revision`;
    started();
    await tx`SELECT pg_sleep(${holdMs / 1000})`;
    await tx`SELECT pg_notify('custos_alerts', ${JSON.stringify({ id, event: 'raised' })})`;
    return row!.revision;
  })) as string;
}

describe('revisions', () => {
  it('follow commit order: a writer that starts while another holds an uncommitted revision waits for it', async () => {
    const order: string[] = [];
    const listen = await app.db.sql.listen('custos_alerts', (p) => {
      const m = /"id":"([^"]+)"/.exec(p);
      if (m) order.push(m[1]!);
    });
    let aStarted!: () => void;
    const aIn = new Promise<void>((r) => (aStarted = r));
    // A takes a revision and holds its transaction open; B writes meanwhile and would commit first.
    const a = slowInsert(writerA, 400, aStarted);
    await aIn;
    const t0 = Date.now();
    const b = slowInsert(writerB, 0, () => {});
    const [ra, rb] = await Promise.all([a, b]);
    // B could not even take its revision before A committed.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(BigInt(rb)).toBeGreaterThan(BigInt(ra));
    await expect.poll(() => order.length).toBe(2);
    const revs = await app.db.sql<{ id: string; revision: string }[]>`SELECT id, revision::text AS revision FROM alerts WHERE id = ANY(${order}::uuid[])`;
    const byId = new Map(revs.map((r) => [r.id, BigInt(r.revision)]));
    // In the order the commits were announced (commit order), revisions rise.
    expect(byId.get(order[0]!)! < byId.get(order[1]!)!).toBe(true);
    await listen.unlisten();
  });

  it('name what each write was, and keep each with its snapshot', async () => {
    const subject = randomUUID();
    const key = `k:${randomUUID()}`;
    const { id } = await raiseAlert(app.db.appSql, { subject, dedupeKey: key });
    await raiseAlert(app.db.appSql, { subject, dedupeKey: key });
    const changes = await app.db.sql<{ event: string; occurrences: number }[]>`
      SELECT event, (alert->>'occurrences')::int AS occurrences FROM alert_changes WHERE alert_id = ${id} ORDER BY revision`;
    expect(changes).toEqual([
      { event: 'raised', occurrences: 1 },
      { event: 'repeated', occurrences: 2 },
    ]);
  });

  it('the history of changes is append-only for the application', async () => {
    const { id } = await raiseAlert(app.db.appSql, { subject: randomUUID(), dedupeKey: `k:${randomUUID()}` });
    await expect(app.db.appSql`UPDATE alert_changes SET event = 'resolved' WHERE alert_id = ${id}`).rejects.toThrow(/permission denied/);
    await expect(app.db.appSql`DELETE FROM alert_changes WHERE alert_id = ${id}`).rejects.toThrow(/permission denied/);
    await expect(app.db.appSql`TRUNCATE alert_changes`).rejects.toThrow(/permission denied/);
  });
});

describe("one process's listener", () => {
  it('catches up on what committed while its connection was away', async () => {
    const got: FeedEvent[] = [];
    const sub = await app.wired.alertFeed.subscribe({ principalId: 'feed-test', onEvent: (e) => got.push(e), onClose: () => {} });
    // A change whose notification never arrives (as when it is sent while the listener is disconnected).
    const silent = randomUUID();
    await app.db.appSql`
      INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, first_at, last_at)
      VALUES (${silent}, 'silent', 'low', ${randomUUID()}, ${`s:${silent}`}, 'missed notification', now(), now())`;
    await new Promise((r) => setTimeout(r, 300));
    // Without a notification, and with the connection up, nothing reads it yet.
    expect(got.filter((e) => e.alert.id === silent)).toEqual([]);
    // The listening connection dies; once it listens again, the feed reads what it missed.
    const [killed] = await app.db.sql`
      SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = ${app.db.name} AND query ILIKE 'LISTEN custos_alerts%'`;
    expect(killed!.n).toBe(1);
    await expect.poll(() => got.filter((e) => e.alert.id === silent).map((e) => e.event), { timeout: 5000 }).toEqual(['raised']);
    // And it listens again: a notified change arrives as usual.
    const { id } = await raiseAlert(app.db.appSql, { subject: randomUUID(), dedupeKey: `k:${randomUUID()}` });
    await expect.poll(() => got.some((e) => e.alert.id === id), { timeout: 5000 }).toBe(true);
    sub.close();
  });

  it('trusts no payload: junk and forged notifications only wake it, and it passes on what is committed', async () => {
    const got: FeedEvent[] = [];
    const sub = await app.wired.alertFeed.subscribe({ principalId: 'feed-test-2', onEvent: (e) => got.push(e), onClose: () => {} });
    const forged = randomUUID();
    for (const payload of ['garbage', '{"id":"not-a-uuid","event":"resolved"}', JSON.stringify({ id: forged, event: 'resolved' })]) {
      await app.db.appSql`SELECT pg_notify('custos_alerts', ${payload})`;
    }
    const { id } = await raiseAlert(app.db.appSql, { subject: randomUUID(), dedupeKey: `k:${randomUUID()}` });
    await expect.poll(() => got.map((e) => [e.alert.id, e.event]), { timeout: 5000 }).toEqual([[id, 'raised']]);
    sub.close();
  });
});
