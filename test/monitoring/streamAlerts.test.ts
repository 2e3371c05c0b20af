/**
 * A stream's pace against its client: a long replay goes out at the pace
 * the client reads (backpressure, nothing cut), while live, a client that
 * stops reading is cut once too much waits for it (it reconnects with
 * Last-Event-ID and loses nothing).
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertFeed } from '../../src/monitoring/alertFeed.ts';
import { streamAlerts } from '../../src/monitoring/streamAlerts.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { deferred } from '../support/deferred.ts';
import { raiseAlert } from './alerts.ts';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.wired.alertFeed.close();
  await app?.close();
});

const allowed = async () => undefined;

describe('a stream and a slow client', () => {
  it('replays a long history at the pace the client reads, without cutting it', async () => {
    const before = await app.wired.alertFeed.alerts.latestRevision();
    // 1,200 changes in one statement (more than two replay batches).
    await app.db.appSql`
      INSERT INTO alerts (id, detector, severity, subject, dedupe_key, title, details, first_at, last_at)
      SELECT gen_random_uuid(), 'bulk', 'low', 'bulk-subject', 'bulk:' || g, 'bulk ' || g, jsonb_build_object('pad', repeat('x', 400)), now(), now()
      FROM generate_series(1, 1200) g`;
    let events = 0;
    let mostQueued = 0;
    // A client that takes each chunk only on the next turn, with a small buffer.
    const sink: Writable = new Writable({
      highWaterMark: 8 * 1024,
      write(chunk: Buffer, _enc, cb) {
        events += (chunk.toString().match(/^event: raised$/gm) ?? []).length;
        mostQueued = Math.max(mostQueued, sink.writableLength);
        setImmediate(cb);
      },
    });
    const run = streamAlerts(app.wired.alertFeed, { sink, principalId: 'slow-reader', lastEventId: before, heartbeatMs: 60_000, accessEnded: allowed, maxBufferedBytes: 32 * 1024 });
    await expect.poll(() => events, { timeout: 20_000 }).toBe(1200);
    sink.destroy();
    const end = await run;
    expect(end).toEqual({ reason: 'client closed', events: 1200, replayed: 1200 });
    // At most about one batch (500 events of ~1 KiB) waited for the client at any time, not the whole history.
    expect(mostQueued).toBeGreaterThan(0);
    expect(mostQueued).toBeLessThan(800 * 1024);
  }, 30_000);

  it('live, cuts a client that stops reading once too much waits for it', async () => {
    // A client that never takes anything.
    const sink = new Writable({ highWaterMark: 1024, write() {} });
    const run = streamAlerts(app.wired.alertFeed, { sink, principalId: 'stuck-reader', heartbeatMs: 60_000, accessEnded: allowed, maxBufferedBytes: 4096 });
    for (let i = 0; i < 20 && !sink.destroyed; i++) {
      await raiseAlert(app.db.appSql, { subject: randomUUID(), dedupeKey: `k:${randomUUID()}` });
      await new Promise((r) => setTimeout(r, 50));
    }
    const end = await run;
    expect(end.reason).toBe('slow client');
    expect(sink.destroyed).toBe(true);
    expect(app.wired.alertFeed.size).toBe(0);
  }, 30_000);
});

describe('a stream\'s first bytes', () => {
  it('go out only once its subscription is in force, so a client that waits for them misses no change after', async () => {
    // A feed whose subscription comes into force when the test says (a first stream waits for LISTEN so).
    const inForce = deferred();
    let subscribed = false;
    const feed = {
      subscribe: async () => {
        await inForce.promise;
        subscribed = true;
        return { close() {} };
      },
    } as unknown as AlertFeed;
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    const run = streamAlerts(feed, { sink, principalId: 'first-bytes', heartbeatMs: 60_000, accessEnded: allowed });
    await new Promise((r) => setTimeout(r, 100));
    expect(chunks).toEqual([]);
    inForce.resolve();
    await expect.poll(() => chunks.length).toBeGreaterThan(0);
    expect(subscribed).toBe(true);
    expect(chunks[0]).toContain(': connected');
    sink.destroy();
    expect((await run).reason).toBe('client closed');
  });
});
