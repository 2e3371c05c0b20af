/**
 * The shared token buckets in PostgreSQL (migrations/0028_rate_limits.sql):
 * one row per client or source address, leased from by every replica. A
 * lease is one statement: refill the row for the time since its last lease
 * (the database's clock, the one clock every replica shares), take up to
 * `want` whole tokens, and return what was taken — bucket.ts's `lease`,
 * written in SQL. The row lock serialises concurrent leases of one key, so
 * two replicas never take the same tokens.
 */
import type { Sql } from '../../db/client.ts';
import type { Limit } from '../bucket.ts';

/** What one lease took, and what the shared bucket holds after it. */
export interface SharedLease {
  granted: number;
  tokens: number;
}

/** The shared buckets. */
export interface BucketStore {
  /** Takes up to `want` whole tokens from `key`'s bucket (created full on first use). */
  lease(key: string, limit: Limit, want: number): Promise<SharedLease>;
  /** Drops buckets untouched for `idleSeconds` (they would be full again anyway). */
  prune(idleSeconds: number): Promise<number>;
}

/** The buckets on `sql` (the application's pool: no connection of their own, so nothing to add to the connection budget). */
export function createBucketStore(sql: Sql): BucketStore {
  return {
    async lease(key, limit, want) {
      const rate = limit.rate;
      const burst = limit.burst;
      // statement_timestamp(): one reading for the whole statement. A lease that waited for the row
      // lock behind a later one sees no negative elapsed time (greatest), and never moves the row back.
      const [row] = await sql<{ granted: number; tokens: number }[]>`
        INSERT INTO rate_limit_buckets AS b (key, tokens, refilled_at, granted)
        VALUES (${key}, ${burst}::float8 - least(${want}::int, floor(${burst}::float8)), statement_timestamp(), least(${want}::int, floor(${burst}::float8))::int)
        ON CONFLICT (key) DO UPDATE SET
          granted = greatest(0, least(${want}::int, floor(least(${burst}::float8, b.tokens + ${rate}::float8 * greatest(0, extract(epoch FROM statement_timestamp() - b.refilled_at)::float8)))))::int,
          tokens = least(${burst}::float8, b.tokens + ${rate}::float8 * greatest(0, extract(epoch FROM statement_timestamp() - b.refilled_at)::float8))
                   - greatest(0, least(${want}::int, floor(least(${burst}::float8, b.tokens + ${rate}::float8 * greatest(0, extract(epoch FROM statement_timestamp() - b.refilled_at)::float8))))),
          refilled_at = greatest(b.refilled_at, statement_timestamp())
        RETURNING granted, tokens`;
      return { granted: row!.granted, tokens: row!.tokens };
    },
    async prune(idleSeconds) {
      const r = await sql`DELETE FROM rate_limit_buckets WHERE refilled_at < statement_timestamp() - make_interval(secs => ${idleSeconds})`;
      return r.count;
    },
  };
}
