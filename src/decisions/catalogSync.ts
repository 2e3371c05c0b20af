/**
 * One process's link to catalog changes: the listening connection feeds the
 * facts in memory (liveFacts.ts) and everything else that must follow the
 * catalog (the policy's role graph, cached client contexts), and a
 * heartbeat barrier checks that the connection still hears the database.
 */
import type { Sql } from '../db/client.ts';
import { openCatalogListener, type CatalogListener } from '../db/notify.ts';
import type { Logger } from '../logger.ts';
import type { LiveFacts } from './liveFacts.ts';

/** The change listener of one process. */
export class CatalogSync {
  private listener: CatalogListener | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  private readonly sql: Sql;
  private readonly session: Sql | undefined;
  private readonly facts: LiveFacts;
  private readonly onChange: (table: string) => void;
  private readonly log: Logger;
  private readonly heartbeatMs: number;
  /** `session`: where the listening connection goes when not `sql`'s server (db/open.ts, behind a transaction pooler). */
  constructor(o: { sql: Sql; session?: Sql; facts: LiveFacts; onChange: (table: string) => void; log: Logger; heartbeatMs: number }) {
    this.sql = o.sql;
    this.session = o.session;
    this.facts = o.facts;
    this.onChange = o.onChange;
    this.log = o.log;
    this.heartbeatMs = o.heartbeatMs;
  }

  /**
   * Listens, and resolves once the facts are in memory (or after
   * `readyTimeoutMs`: until then, and whenever trust is lost, decisions read
   * the database). Rejects if the first LISTEN fails.
   */
  async start(readyTimeoutMs = 30_000): Promise<void> {
    if (this.listener) return;
    this.listener = await openCatalogListener(this.sql, {
      onNotify: (payload) => {
        this.facts.notified(payload);
        if (!payload.startsWith('sync:')) this.onChange(payload.split(':', 1)[0]!);
      },
      onListening: () => {
        this.facts.listeningStarted();
        // Changes may have been missed while away.
        this.onChange('(subscribed)');
      },
      onLost: (reason) => {
        this.log.warn({ reason }, 'catalog change listener lost: decisions read facts from the database until it is back');
        this.facts.listeningLost();
      },
    }, this.session ? { session: this.session } : {});
    this.heartbeat = setInterval(() => void this.sync(), this.heartbeatMs);
    this.heartbeat.unref();
    const until = Date.now() + readyTimeoutMs;
    while (!this.facts.isTrusted && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  /** The barrier: every change committed before the call is reflected in the next lookup (see LiveFacts.sync). */
  sync(): Promise<void> {
    const listener = this.listener;
    if (!listener) return Promise.resolve();
    return this.facts.sync(
      (payload) => listener.notify(payload),
      (reason) => listener.restart(reason),
      this.heartbeatMs,
    );
  }

  /** Stops listening. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.facts.stop();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }
}
