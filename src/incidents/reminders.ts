/**
 * The periodic loop behind deadline reminders: every server process runs
 * one (main.ts; test/support/app.ts), and `sendDueReminders` makes sure each
 * reminder goes out once across all of them. Tests call `pass()` with their
 * own clock instead of waiting for the timer.
 */
import type { Logger } from '../logger.ts';
import type { IncidentDeps } from './deps.ts';
import { sendDueReminders } from './sendReminders.ts';

/** Options of {@link IncidentReminders}. */
export interface IncidentRemindersOptions {
  deps: IncidentDeps;
  log: Logger;
  /** Time between passes (reminders are due at the start of a local day; a minute late is on time). */
  intervalMs?: number;
}

/** Sends due reminders periodically. */
export class IncidentReminders {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly o: IncidentRemindersOptions;

  constructor(o: IncidentRemindersOptions) {
    this.o = o;
  }

  /** Starts the periodic loop. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.o.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** Stops the loop and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.pass()
      .then(() => undefined)
      .catch((err: unknown) => this.o.log.warn({ err }, 'incident reminder pass failed; retrying on the next tick'))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** One pass: sends every due reminder (in batches), then asks the notifier to deliver them. Returns how many were sent. */
  async pass(): Promise<number> {
    let sent = 0;
    for (;;) {
      const n = await sendDueReminders(this.o.deps);
      sent += n;
      if (n < 50) break;
    }
    if (sent) this.o.deps.kick();
    return sent;
  }
}
