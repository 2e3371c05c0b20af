/**
 * Throttling, audited in aggregate: a flood of refused requests must not
 * become a flood of audit events (each one is a committed, chained record).
 * Refusals are counted in memory per key (a client, or a source address) and
 * written as one `ratelimit.throttled` event per key per window, with the
 * count, the class, the routes and the window's bounds. Each process writes
 * its own (a client throttled by two replicas gets two events per window,
 * whose counts add up).
 */
import type { AuditLog } from '../audit/log.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';

/** One refusal's facts. */
export interface Throttled {
  cls: string;
  route: string;
  principalId?: string | undefined;
  ip?: string | undefined;
}

interface Window {
  count: number;
  cls: string;
  routes: Set<string>;
  principalId: string | undefined;
  ip: string | undefined;
  from: Date;
}

/** Counts refusals and writes them once per key per window. */
export class ThrottleLog {
  private windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  private readonly deps: { audit: AuditLog; clock: Clock; log: Logger; windowSeconds: number };

  constructor(deps: { audit: AuditLog; clock: Clock; log: Logger; windowSeconds: number }) {
    this.deps = deps;
  }

  /** Counts one refusal (no I/O). */
  add(key: string, t: Throttled): void {
    const w = this.windows.get(key);
    if (w) {
      w.count++;
      w.routes.add(t.route);
      w.ip ??= t.ip;
      return;
    }
    this.windows.set(key, { count: 1, cls: t.cls, routes: new Set([t.route]), principalId: t.principalId, ip: t.ip, from: this.deps.clock.now() });
  }

  /** Writes one event per key counted since the last flush. */
  async flush(): Promise<void> {
    if (!this.windows.size) return;
    const done = this.windows;
    this.windows = new Map();
    const to = this.deps.clock.now();
    for (const w of done.values()) {
      try {
        await this.deps.audit.record({
          type: 'ratelimit.throttled',
          outcome: 'failure',
          actorId: w.principalId ?? null,
          meta: { ip: w.ip, requestId: undefined },
          details: { limited: w.principalId ? 'client' : 'address', class: w.cls, refused: w.count, routes: [...w.routes].sort(), from: w.from.toISOString(), to: to.toISOString() },
        });
      } catch (err) {
        // The refusals happened whatever the log says; what could not be written is said here, with its count.
        this.deps.log.error({ err, principalId: w.principalId, ip: w.ip, refused: w.count }, 'rate limits: the throttling event could not be recorded');
      }
    }
  }

  /** Flushes every window. */
  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.deps.windowSeconds * 1000).unref();
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
