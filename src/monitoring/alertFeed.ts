/**
 * The alert change feed of one process, shared by every stream (SSE client)
 * it serves: one LISTEN on `custos_alerts` (db/notify.ts), whichever replica
 * or detector sent the notification. A notification only wakes the feed:
 * it reads the changes committed since the last revision it passed on
 * (`alert_changes`, migration 0026) and passes each on, one read at a time,
 * so subscribers see every change once, in commit order.
 *
 * When the listening connection was lost, notifications may have been
 * missed: once LISTEN is in force again the feed reads every alert written
 * after the last revision it passed on, and passes those on, so a stream
 * misses nothing that committed meanwhile.
 */
import { openCatalogListener, type CatalogListener } from '../db/notify.ts';
import type { Sql } from '../db/client.ts';
import { RateLimitedError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { AlertChangeRecord, AlertStore } from './alerts.ts';
import { ALERTS_CHANNEL } from './channel.ts';

/** One change, as streams send it. */
export type FeedEvent = AlertChangeRecord;

/** A stream's subscription. */
export interface Subscription {
  /** Stops delivery and frees the principal's stream slot (idempotent). */
  close(): void;
}

/** Alerts read per query when catching up or replaying. */
export const REPLAY_BATCH = 500;

/** Options of the feed. */
export interface AlertFeedOptions {
  sql: Sql;
  /** Where the listening connection goes when not `sql`'s server (db/open.ts, behind a transaction pooler). */
  session?: Sql;
  alerts: AlertStore;
  log: Logger;
  /** Open streams one principal may hold at once in this process (a leaked session must not exhaust sockets). */
  maxStreamsPerPrincipal?: number;
  retryMs?: number;
}

interface Subscriber {
  principalId: string;
  onEvent: (e: FeedEvent) => void;
  /** The feed is closing (server stop). */
  onClose: () => void;
}

/** The process's one listener on `custos_alerts`, fanned out to its streams. */
export class AlertFeed {
  private readonly o: AlertFeedOptions;
  private listener: CatalogListener | undefined;
  private starting: Promise<void> | undefined;
  private readonly subs = new Set<Subscriber>();
  private readonly perPrincipal = new Map<string, number>();
  /** The latest revision passed on (or, before any, the latest when listening began). */
  private last = 0n;
  private queue: Promise<void> = Promise.resolve();
  private listenedOnce = false;
  private wakePending = false;
  private closed = false;

  constructor(o: AlertFeedOptions) {
    this.o = o;
  }

  /** The store streams replay from. */
  get alerts(): AlertStore {
    return this.o.alerts;
  }

  /** Open streams of this process. */
  get size(): number {
    return this.subs.size;
  }

  /**
   * Takes one of the principal's stream slots, or refuses (RateLimitedError)
   * when they hold the maximum already. The slot is freed by the subscription's close.
   */
  reserve(principalId: string): () => void {
    const max = this.o.maxStreamsPerPrincipal ?? 4;
    const held = this.perPrincipal.get(principalId) ?? 0;
    if (held >= max) throw new RateLimitedError(5);
    this.perPrincipal.set(principalId, held + 1);
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const n = (this.perPrincipal.get(principalId) ?? 1) - 1;
      if (n <= 0) this.perPrincipal.delete(principalId);
      else this.perPrincipal.set(principalId, n);
    };
  }

  /** Subscribes once the listener is in force (started on first use); events from then on reach `onEvent`. */
  async subscribe(s: Subscriber): Promise<Subscription> {
    if (this.closed) throw new Error('the alert feed is closed');
    await this.start();
    this.subs.add(s);
    return { close: () => void this.subs.delete(s) };
  }

  /** Starts listening (idempotent); resolves once LISTEN is in force and the current revision is known. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      this.listener = await openCatalogListener(
        this.o.sql,
        {
          onNotify: (payload) => this.onNotify(payload),
          onListening: () => this.onListening(),
          onLost: (reason) => this.o.log.warn({ reason }, 'alert feed: listening connection lost; catching up once it is back'),
        },
        { channel: ALERTS_CHANNEL, ...(this.o.retryMs === undefined ? {} : { retryMs: this.o.retryMs }), ...(this.o.session ? { session: this.o.session } : {}) },
      );
      await this.queue;
    })().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  /** Ends every stream (server stop) and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.subs]) s.onClose();
    this.subs.clear();
    await this.listener?.close();
  }

  /** Runs `task` after every earlier one: events go out in the order their notifications came. */
  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => this.o.log.error({ err }, 'alert feed: reading a change failed'));
  }

  private onListening(): void {
    if (!this.listenedOnce) {
      this.listenedOnce = true;
      // Where the feed starts: what committed before it listened is history (a stream's replay covers it).
      this.enqueue(async () => {
        const latest = await this.o.alerts.latestRevision();
        if (latest > this.last) this.last = latest;
      });
      return;
    }
    // Back after a loss: pass on whatever committed while nobody was listening.
    this.wake();
  }

  /**
   * A notification is only a wake-up call (its payload is not trusted, not
   * even its id): the feed reads every change after the last revision it
   * passed on, in revision order. Revisions follow commit order
   * (migration 0026), so once a revision is visible every earlier one is
   * too, and nothing is skipped, whatever order the reads happen in.
   * Notifications that arrive while a read is pending share it.
   */
  private onNotify(_payload: string): void {
    this.wake();
  }

  private wake(): void {
    if (this.wakePending) return;
    this.wakePending = true;
    this.enqueue(async () => {
      // Cleared first: a notification arriving during the read wakes another one.
      this.wakePending = false;
      for (;;) {
        const batch = await this.o.alerts.changedSince(this.last, REPLAY_BATCH);
        for (const c of batch) this.pass(c);
        if (batch.length < REPLAY_BATCH) return;
      }
    });
  }

  private pass(c: FeedEvent): void {
    if (c.revision <= this.last) return;
    this.last = c.revision;
    for (const s of this.subs) s.onEvent(c);
  }
}
