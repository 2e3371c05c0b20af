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

/** The lock, on a connection of its own opened from `sql`'s settings. */
export function consumerLock(sql: Sql): ConsumerLock {
  let conn: Sql | undefined;
  /** The backend holding the lock, when this process holds it. */
  let pid: number | undefined;

  return {
    async hold() {
      conn ??= dedicatedClient(sql, 'custos-monitoring');
      if (pid !== undefined) {
        const [r] = await conn`SELECT pg_backend_pid() AS pid`.catch((err: unknown) => {
          // The connection is gone, and the lock with it.
          pid = undefined;
          throw err;
        });
        if (r!.pid === pid) return 'held';
        // Reconnected: a new backend, without the lock.
        pid = undefined;
      }
      const [r] = await conn`SELECT pg_try_advisory_lock(${MONITOR_LOCK_KEY}::bigint) AS ok, pg_backend_pid() AS pid`;
      if (!r!.ok) return 'busy';
      pid = r!.pid as number;
      return 'acquired';
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
