/**
 * Token-bucket arithmetic, pure (no clock read, no I/O): a bucket holds up
 * to `burst` tokens and gains `rate` tokens a second; a request spends
 * tokens. The shared bucket in PostgreSQL (postgres/bucketStore.ts) runs the
 * very same arithmetic in SQL, and the limiter's fallback (limiter.ts) runs
 * it in memory, so the properties tested here hold for both.
 */

/** A limit: `rate` tokens a second, at most `burst` held (the most a client can spend at once). */
export interface Limit {
  rate: number;
  burst: number;
}

/** A bucket's state: the tokens it held at `at` (ms, any monotonic origin). */
export interface BucketState {
  tokens: number;
  at: number;
}

/** A full bucket at `at`. */
export function fullBucket(limit: Limit, at: number): BucketState {
  return { tokens: limit.burst, at };
}

/**
 * The bucket at `now`: refilled for the time since `at`, never above
 * `burst`. Time that runs backwards (a reading older than the state) adds
 * nothing and leaves `at` where it was, so a late reader never mints tokens.
 */
export function refill(state: BucketState, now: number, limit: Limit): BucketState {
  if (now <= state.at) return state;
  return { tokens: Math.min(limit.burst, state.tokens + (limit.rate * (now - state.at)) / 1000), at: now };
}

/** What {@link lease} granted. */
export interface LeaseResult {
  state: BucketState;
  /** Whole tokens handed out (0 … want). */
  granted: number;
}

/**
 * Takes up to `want` whole tokens, but none unless at least `need` are
 * there (a request that cannot be served takes nothing, leaving the tokens
 * to a smaller one): what a process leases from the shared bucket, to spend
 * locally.
 */
export function lease(state: BucketState, now: number, limit: Limit, want: number, need = 1): LeaseResult {
  const s = refill(state, now, limit);
  const whole = Math.floor(s.tokens);
  const granted = whole >= need ? Math.max(0, Math.min(want, whole)) : 0;
  return { state: { tokens: s.tokens - granted, at: s.at }, granted };
}

/**
 * Seconds until the bucket holds `need` tokens (0 when it does), rounded up
 * to a whole second at least 1 when any wait is needed: what `Retry-After`
 * says (RFC 9110 §10.2.3 takes whole seconds).
 */
export function retryAfterSeconds(tokens: number, need: number, limit: Limit): number {
  if (tokens >= need) return 0;
  return Math.max(1, Math.ceil((Math.min(need, limit.burst) - tokens) / limit.rate));
}

/** How many tokens one lease asks for: a tenth of a second's worth (at least one), never more than the burst. */
export function leaseSize(limit: Limit, fraction: number): number {
  return Math.max(1, Math.min(limit.burst, Math.floor(limit.rate * fraction)));
}
