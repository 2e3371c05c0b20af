/**
 * One consumer at a time: a session-level advisory lock held on a client of
 * its own (one connection, db/client.ts dedicatedClient). The lock lives
 * exactly as long as that backend: if the connection drops (or is
 * terminated), PostgreSQL releases the lock and another replica's next try
 * takes it. Each pass checks the backend is still the one that locked (the
 * client reconnects by itself, and a new backend holds no lock); the
 * cursors' compare-and-set guards the moments in between.
 */
import { dedicatedClient, type Sql } from '../../db/client.ts';
import type { ConsumerLock } from '../store.ts';

/** The lock's key (pg_try_advisory_lock(bigint)). */
export const MONITOR_LOCK_KEY = '7166484312653501';

/** Longest a lock check may take before the connection is given up on (ms). */
const HOLD_TIMEOUT_MS = 5000;

/** The lock, on a connection of its own opened from `sql`'s settings. */
export function consumerLock(sql: Sql): ConsumerLock {
  let conn: Sql | undefined;
  /** The backend holding the lock, when this process holds it. */
  let pid: number | undefined;

  /**
   * Forgets the client after any failure: a postgres.js client whose
   * connection was killed can answer its next queries with stale errors or
   * not at all, so the next try starts on a new one. Ending the old one
   * closes its session, and with it any lock it still held.
   */
  const reset = () => {
    const c = conn;
    conn = undefined;
    pid = undefined;
    c?.end({ timeout: 0 }).catch(() => {});
  };

  const attempt = async (): Promise<'held' | 'acquired' | 'busy'> => {
    const c = (conn ??= dedicatedClient(sql, 'custos-monitoring'));
    if (pid !== undefined) {
      const [r] = await c`SELECT pg_backend_pid() AS pid`;
      if (r!.pid === pid) return 'held';
      // Reconnected: a new backend, without the lock.
      pid = undefined;
    }
    const [r] = await c`SELECT pg_try_advisory_lock(${MONITOR_LOCK_KEY}::bigint) AS ok, pg_backend_pid() AS pid`;
    if (!r!.ok) return 'busy';
    pid = r!.pid as number;
    return 'acquired';
  };

  return {
    async hold() {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          attempt(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('the monitoring lock connection did not answer')), HOLD_TIMEOUT_MS);
          }),
        ]);
      } catch (err) {
        reset();
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
    async release() {
      const c = conn;
      conn = undefined;
      pid = undefined;
      // Closing the session lets go of the lock.
      await c?.end({ timeout: 2 });
    },
  };
}
