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
  /** Takes up to `want` whole tokens from `key`'s bucket (created full on first use), none unless `need` are there. */
  lease(key: string, limit: Limit, want: number, need: number): Promise<SharedLease>;
  /** Drops buckets untouched for `idleSeconds` (they would be full again anyway). */
  prune(idleSeconds: number): Promise<number>;
}

/** The buckets on `sql` (the application's pool: no connection of their own, so nothing to add to the connection budget). */
export function createBucketStore(sql: Sql): BucketStore {
  return {
    async lease(key, limit, want, need) {
      const rate = limit.rate;
      const burst = limit.burst;
      // bucket.ts `lease`: avail = min(burst, tokens + rate × elapsed); granted = min(want, ⌊avail⌋) when ⌊avail⌋ ≥ need, else 0.
      // statement_timestamp(): one reading for the whole statement. A lease that waited for the row
      // lock behind a later one sees no negative elapsed time (greatest), and never moves the row back.
      const [row] = await sql<{ granted: number; tokens: number }[]>`
        WITH p AS (SELECT ${rate}::float8 AS rate, ${burst}::float8 AS burst, ${want}::int AS want, ${need}::int AS need)
        INSERT INTO rate_limit_buckets AS b (key, tokens, refilled_at, granted)
        SELECT ${key}, p.burst - g.granted, statement_timestamp(), g.granted
          FROM p, LATERAL (SELECT CASE WHEN floor(p.burst) >= p.need THEN least(p.want, floor(p.burst))::int ELSE 0 END AS granted) g
        ON CONFLICT (key) DO UPDATE SET
          granted = (SELECT CASE WHEN floor(a.avail) >= p.need THEN least(p.want, floor(a.avail))::int ELSE 0 END
                       FROM p, LATERAL (SELECT least(p.burst, b.tokens + p.rate * greatest(0, extract(epoch FROM statement_timestamp() - b.refilled_at)::float8)) AS avail) a),
          tokens = (SELECT a.avail - CASE WHEN floor(a.avail) >= p.need THEN least(p.want, floor(a.avail)) ELSE 0 END
                      FROM p, LATERAL (SELECT least(p.burst, b.tokens + p.rate * greatest(0, extract(epoch FROM statement_timestamp() - b.refilled_at)::float8)) AS avail) a),
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
