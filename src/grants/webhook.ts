/**
 * Notifications to one configured webhook: JSON bodies signed with
 * HMAC-SHA256, delivered from the outbox, retried with exponential backoff,
 * each attempt's result recorded. The same loop (webhook or not) announces
 * grants that became active or expired, re-judging the approvals of those
 * that take effect, and closes lapsed access requests (the engine never
 * waits for it: expiry is decided at decision time).
 *
 * Signature (header `Custos-Signature`): `t=<unix seconds>,v1=<hex>` where
 * hex = HMAC-SHA256(secret, `<t>.<raw body>`). Receivers recompute it and
 * refuse stale `t` values to stop replays.
 */
import { createHmac } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import { grantNotice } from './notices.ts';
import { expiryTrace } from './requestExpiry.ts';
import type { Activation, GrantStore, OutboxStore } from './store.ts';

/** The signature header value for a body sent at `t` (unix seconds). */
export function signWebhook(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** Settings of the notifier. */
export interface WebhookSettings {
  url: string;
  secret: string;
  maxAttempts: number;
  /** First retry delay; each later one doubles, up to five minutes. */
  retryBaseSeconds: number;
  timeoutMs: number;
}

/** What a {@link Notifier} works with. */
interface NotifierOptions {
  outbox: OutboxStore | undefined;
  grants: GrantStore;
  activation: Activation;
  clock: Clock;
  log: Logger;
  settings: WebhookSettings | undefined;
  intervalMs?: number;
}

/** Delivers queued notifications and announces grant lifecycle changes. */
export class Notifier {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  private readonly o: NotifierOptions;
  constructor(o: NotifierOptions) {
    this.o = o;
  }

  /** Starts the periodic loop. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.kick(), this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Stops the loop and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs a pass soon (coalescing overlapping requests). */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err: unknown) => this.o.log.warn({ err }, 'notification pass failed; retrying on the next tick'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** One pass: judge and announce lifecycle changes, close lapsed requests, then deliver what is due. */
  async pass(): Promise<void> {
    // Runs with or without a webhook: activation re-judges a grant's approvals, and expiry leaves an audit event.
    await this.o.grants.announceLifecycle(this.o.clock.now(), (g, what) => [grantNotice(`grant.${what}`, g)], this.o.activation);
    // Lapsed requests are closed without waiting for someone to touch them (they are refused at use regardless).
    await this.o.grants.expireRequests(this.o.clock.now(), expiryTrace);
    if (!this.o.settings || !this.o.outbox) return;
    for (;;) {
      const due = await this.o.outbox.claimDue(20, Math.ceil(this.o.settings.timeoutMs / 1000) + 30);
      if (!due.length) return;
      await Promise.all(due.map((d) => this.deliver(d)));
    }
  }

  private async deliver(d: { id: string; event: string; payload: Record<string, unknown>; attempts: number }): Promise<void> {
    const s = this.o.settings!;
    const body = JSON.stringify(d.payload);
    const t = Math.floor(Date.now() / 1000);
    let status: number | null = null;
    let error = '';
    try {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'custos-webhook', 'custos-event': d.event, 'custos-delivery': d.id, 'custos-signature': signWebhook(s.secret, t, body) },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(s.timeoutMs),
      });
      status = res.status;
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) {
        await this.o.outbox!.delivered(d.id, res.status);
        return;
      }
      error = `HTTP ${res.status}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const retry = d.attempts >= s.maxAttempts ? null : Math.min(300, s.retryBaseSeconds * 2 ** (d.attempts - 1));
    if (retry === null) this.o.log.error({ delivery: d.id, event: d.event, attempts: d.attempts, error }, 'webhook delivery failed for good');
    await this.o.outbox!.failed(d.id, { status, error, retryInSeconds: retry });
  }
}
