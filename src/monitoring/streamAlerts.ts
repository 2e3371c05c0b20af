/**
 * One console's Server-Sent Events stream of alert changes (the WHATWG HTML
 * "server-sent events" format): each change is
 *
 *     id: <revision>
 *     event: raised | repeated | acknowledged | assigned | resolved | updated
 *     data: {"event": …, "alert": {…}}
 *
 * with comment lines as heartbeats: one event per change, the alert as it
 * stood after it. A client that reconnects with `Last-Event-ID` first gets
 * every change after that revision, then the live ones, with nothing lost
 * between the two and nothing sent twice (revisions follow commit order,
 * migration 0026).
 *
 * The stream ends when the client goes away, when the server stops, when
 * the caller's access ends (checked at every heartbeat: session expired,
 * revoked or idle, person disabled, permission gone), or when the client
 * reads too slowly (it reconnects with Last-Event-ID and loses nothing).
 */
import type { Writable } from 'node:stream';
import type { FeedEvent, AlertFeed } from './alertFeed.ts';
import { REPLAY_BATCH } from './alertFeed.ts';

/** Options of {@link streamAlerts}. */
export interface StreamAlertsOptions {
  sink: Writable;
  principalId: string;
  /** The revision the client saw last (`Last-Event-ID`), if it is reconnecting. */
  lastEventId?: bigint | undefined;
  heartbeatMs: number;
  /** Why the caller may no longer read alerts, or undefined while they may. */
  accessEnded: () => Promise<string | undefined>;
  /** Bytes queued for a client beyond which it counts as not reading (default 1 MiB). */
  maxBufferedBytes?: number;
}

/** How a stream ended. */
export interface StreamEnd {
  reason: 'client closed' | 'server stopping' | 'slow client' | 'error' | `access ended: ${string}`;
  /** Alert events written (replayed and live). */
  events: number;
  replayed: number;
}

/** What a client waits before reconnecting (ms), sent as the stream's `retry:` field. */
const RETRY_MS = 3000;

/** The SSE frame of one change. JSON.stringify leaves no raw line break in `data`. */
export function frame(e: FeedEvent): string {
  return `id: ${e.revision}\nevent: ${e.event}\ndata: ${JSON.stringify({ event: e.event, alert: e.alert })}\n\n`;
}

/** Streams alert changes into `sink` until one of the ends above; resolves with how it ended. */
export async function streamAlerts(feed: AlertFeed, o: StreamAlertsOptions): Promise<StreamEnd> {
  const sink = o.sink;
  const maxBuffered = o.maxBufferedBytes ?? 1024 * 1024;
  let events = 0;
  let replayed = 0;
  let ended: StreamEnd['reason'] | undefined;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const end = (reason: StreamEnd['reason']) => {
    if (ended) return;
    ended = reason;
    finish();
  };

  // Live events that arrive while the replay is read wait behind it.
  let pending: FeedEvent[] | undefined = o.lastEventId === undefined ? undefined : [];
  const write = (text: string) => {
    if (ended || sink.destroyed) return;
    sink.write(text);
    // Live, a client that does not read would make the server hold its events forever: cut it.
    // (The replay waits for the client instead: see below.)
    if (!pending && sink.writableLength > maxBuffered) {
      end('slow client');
      sink.destroy();
    }
  };
  /** Resolves once the client has taken what is queued (or the stream ended). */
  const drained = () =>
    sink.writableNeedDrain && !ended
      ? new Promise<void>((resolve) => {
          const go = () => {
            sink.off('drain', go);
            sink.off('close', go);
            resolve();
          };
          sink.on('drain', go);
          sink.on('close', go);
          void done.then(go);
        })
      : Promise.resolve();

  let sentUpTo = o.lastEventId ?? -1n;
  const send = (e: FeedEvent) => {
    if (e.revision <= sentUpTo) return;
    sentUpTo = e.revision;
    events++;
    write(frame(e));
  };
  const onClose = () => end('client closed');
  sink.on('close', onClose);
  sink.on('error', () => end('error'));
  const subscription = await feed.subscribe({
    principalId: o.principalId,
    onEvent: (e) => (pending ? pending.push(e) : send(e)),
    onClose: () => end('server stopping'),
  });
  const heartbeat = setInterval(() => {
    write(': heartbeat\n\n');
    o.accessEnded().then(
      (why) => {
        if (why) end(`access ended: ${why}`);
      },
      () => end('error'),
    );
  }, o.heartbeatMs);
  try {
    // The first bytes, sent only now that the subscription is in force (the headers went out before it):
    // a client that waits for them knows every change committed after it saw them reaches it.
    write(`retry: ${RETRY_MS}\n: connected\n\n`);
    if (o.lastEventId !== undefined) {
      let since = o.lastEventId;
      for (;;) {
        if (ended) break;
        const batch = await feed.alerts.changedSince(since, REPLAY_BATCH);
        for (const c of batch) {
          since = c.revision;
          send(c);
          replayed++;
        }
        // A long history goes out at the pace the client reads it (backpressure), one batch in memory at a time.
        await drained();
        if (batch.length < REPLAY_BATCH) break;
      }
      const held = pending ?? [];
      pending = undefined;
      for (const e of held) send(e);
    }
    await done;
    // Said before the end, so a console knows why (no `id:`: Last-Event-ID stays the last change's).
    if (ended !== 'client closed' && ended !== 'slow client' && !sink.destroyed) sink.write(`event: end\ndata: ${JSON.stringify({ reason: ended })}\n\n`);
  } catch {
    end('error');
  } finally {
    clearInterval(heartbeat);
    subscription.close();
    sink.off('close', onClose);
  }
  return { reason: ended ?? 'error', events, replayed };
}
