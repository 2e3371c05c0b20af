-- Shared token buckets of the per-client and per-address rate limits
-- (src/ratelimit, docs/rate-limits.md). Every replica leases tokens from the
-- same row in batches, so a client cannot multiply its quota by the number
-- of replicas. `granted` is what the last lease took (the statement that
-- takes it returns it: one round trip per lease).
--
-- UNLOGGED: a bucket is a few numbers that change with every lease and are
-- worth nothing after a crash (a lost row is a full bucket again, as for a
-- client never seen); it writes no WAL and so costs no fsync or replication.
-- Rows are small and one per client or address; buckets idle for a day are
-- removed by the lease statement's neighbour (bucketStore.ts `prune`).
CREATE UNLOGGED TABLE rate_limit_buckets (
  key         text PRIMARY KEY CHECK (length(key) <= 200),
  tokens      double precision NOT NULL,
  refilled_at timestamptz NOT NULL,
  granted     integer NOT NULL DEFAULT 0
);
