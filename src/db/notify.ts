/**
 * Catalog change notifications (PostgreSQL LISTEN/NOTIFY) on a connection of
 * their own. Notifications sent while that connection is away are lost for
 * good, so the caller must know the moment it goes: `onLost` fires when it
 * closes (and when the caller declares it dead), `onListening` when LISTEN
 * is in force again, after which the caller re-reads what it holds. Between
 * the two, nothing it holds may be trusted.
 *
 * Notifications from one transaction arrive in the order sent, and those of
 * different transactions in commit order (PostgreSQL's NOTIFY guarantee):
 * `notify` from the pool after a commit therefore works as a barrier, since
 * its payload comes back after every notification of that commit.
 */
import postgres from 'postgres';
import type { Sql } from './client.ts';

/** The channel the catalog triggers notify on. */
export const CATALOG_CHANNEL = 'custos_catalog';

/** What a listener reports. */
export interface ListenerEvents {
  /** A notification's payload: `table` or `table:key` (migrations 0005, 0022), or a payload sent with {@link CatalogListener.notify}. */
  onNotify(payload: string): void;
  /** LISTEN is in force (first time and after every reconnection). */
  onListening(): void;
  /** The connection is gone, or was declared dead: notifications may have been missed. */
  onLost(reason: string): void;
}

/** A running listener. */
export interface CatalogListener {
  /** Sends a notification on the channel through the pool (it comes back to every listener, this one included). */
  notify(payload: string): Promise<void>;
  /** Declares the connection dead (e.g. a barrier never came back): closes it and listens again on a new one. */
  restart(reason: string): void;
  /** Stops listening for good. */
  close(): Promise<void>;
}

/**
 * Opens the listening connection and resolves once LISTEN is in force (or
 * rejects if the first attempt fails). Reconnects after a loss, retrying
 * every `retryMs` until the database answers.
 */
export async function openCatalogListener(sql: Sql, events: ListenerEvents, options: { retryMs?: number; channel?: string; session?: Sql } = {}): Promise<CatalogListener> {
  const retryMs = options.retryMs ?? 1000;
  // Where the listening connection goes: `sql`'s own server unless the caller names a direct one (behind a transaction pooler, LISTEN would not survive the transaction).
  const template = options.session ?? sql;
  // Another channel (e.g. custos_alerts) is kept the same way; the name is a constant of the caller's, never input.
  const channel = options.channel ?? CATALOG_CHANNEL;
  let closed = false;
  let listening = false;
  let retry: NodeJS.Timeout | undefined;
  let conn: Sql | undefined;

  /** A new connection with the pool's own settings (address, credentials, role) that never idles out. */
  function connect(): Sql {
    const options = template.options as unknown as postgres.Options<Record<string, never>> & { connection?: Record<string, unknown> };
    const own: Sql = postgres({
      ...options,
      // Named apart from the pool, whose connections /metrics counts by name.
      connection: { ...options.connection, application_name: `${String(options.connection?.application_name ?? 'custos')}:listen` },
      max: 1,
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      onnotify: (ch: string, payload: string) => {
        if (ch === channel && listening && conn === own) events.onNotify(payload);
      },
      onclose: () => {
        if (conn === own) lost('the listening connection closed');
      },
    } as unknown as postgres.Options<Record<string, never>>) as unknown as Sql;
    return own;
  }

  function lost(reason: string): void {
    const was = listening;
    listening = false;
    const old = conn;
    conn = undefined;
    void old?.end({ timeout: 0 }).catch(() => {});
    if (was) events.onLost(reason);
    // At once after a loss; a failed attempt waits before the next.
    schedule(was ? 0 : retryMs);
  }

  function schedule(ms: number): void {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      listen().catch(() => {
        const old = conn;
        conn = undefined;
        void old?.end({ timeout: 0 }).catch(() => {});
        schedule(retryMs);
      });
    }, ms);
    retry.unref();
  }

  async function listen(): Promise<void> {
    const own = (conn = connect());
    await own.unsafe(`LISTEN ${channel}`);
    if (closed || conn !== own) return;
    listening = true;
    events.onListening();
  }

  try {
    await listen();
  } catch (err) {
    closed = true;
    await conn?.end({ timeout: 0 }).catch(() => {});
    throw err;
  }
  return {
    notify: async (payload) => {
      await sql`SELECT pg_notify(${channel}, ${payload})`;
    },
    restart(reason) {
      if (!closed) lost(reason);
    },
    async close() {
      closed = true;
      listening = false;
      if (retry) clearTimeout(retry);
      const old = conn;
      conn = undefined;
      await old?.end({ timeout: 1 }).catch(() => {});
    },
  };
}
