/**
 * One consumer at a time: a session-level advisory lock held on a connection
 * reserved for it. The lock lives exactly as long as that backend: if the
 * connection drops (or is terminated), PostgreSQL releases the lock and
 * another replica's next try takes it. Each pass checks the backend is still
 * the one that locked (postgres.js may silently reconnect a dropped
 * connection, which would hold no lock); the cursors' compare-and-set
 * guards the moments in between.
 */
import type { Sql } from '../../db/client.ts';
import type { ConsumerLock } from '../store.ts';

/** The lock's key (pg_try_advisory_lock(bigint)): "custos monitoring". */
export const MONITOR_LOCK_KEY = '7166484312653501';

type Reserved = Awaited<ReturnType<Sql['reserve']>>;

/** The lock, on a connection reserved from `sql`'s pool. */
export function consumerLock(sql: Sql): ConsumerLock {
  let conn: Reserved | undefined;
  let pid: number | undefined;

  /** Gives the connection back, after letting go of any lock it might hold (a pooled connection must never keep it). */
  const drop = async () => {
    const c = conn;
    conn = undefined;
    pid = undefined;
    if (!c) return;
    await c`SELECT pg_advisory_unlock_all()`.catch(() => {});
    c.release();
  };

  return {
    async hold() {
      if (conn && pid !== undefined) {
        try {
          const [r] = await conn`SELECT pg_backend_pid() AS pid`;
          if (r!.pid === pid) return 'held';
        } catch {
          // The connection is gone, and the lock with it.
        }
        await drop();
      }
      conn ??= await sql.reserve();
      try {
        const [r] = await conn`SELECT pg_try_advisory_lock(${MONITOR_LOCK_KEY}::bigint) AS ok, pg_backend_pid() AS pid`;
        if (r!.ok) {
          pid = r!.pid as number;
          return 'acquired';
        }
        return 'busy';
      } catch (err) {
        await drop();
        throw err;
      }
    },
    release: drop,
  };
}
