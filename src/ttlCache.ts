/**
 * An in-memory cache whose entries expire after a wall-clock bound and can
 * all be dropped at once (the client contexts of service requests). With an
 * `epoch`, it serves entries only while change notifications are heard and
 * only those loaded under the same epoch: while the epoch is undefined
 * nothing is kept (concurrent lookups of a key only share the load in
 * flight), and a new epoch drops everything held.
 */
import type { Clock } from './clock.ts';

/** Options of a TtlCache. */
export interface TtlCacheOptions {
  /** Past this many entries, all are dropped (default 50,000). */
  maxEntries?: number;
  /** The trust epoch (LiveFacts.trustEpoch): undefined, nothing is kept (only a load in flight is shared); a new value, everything held is dropped. */
  epoch?: () => number | undefined;
}

/** A cache whose entries expire and can all be dropped at once. */
export class TtlCache<V> {
  private entries = new Map<string, { value: Promise<V>; until: number; generation: number }>();
  private generation = 0;
  /** Loads in flight while untrusted (see shared()). */
  private readonly inflight = new Map<string, Promise<V>>();

  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly epoch: (() => number | undefined) | undefined;
  private lastEpoch: number | undefined;
  constructor(clock: Clock, ttlMs: number, options: TtlCacheOptions = {}) {
    this.clock = clock;
    this.ttlMs = ttlMs;
    this.maxEntries = options.maxEntries ?? 50_000;
    this.epoch = options.epoch;
  }

  /** The cached value, or the loader's (shared by concurrent callers). Failures are not cached. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    if (this.epoch) {
      const epoch = this.epoch();
      if (epoch !== this.lastEpoch) {
        // Nothing read before trust was lost may be served after it returns.
        this.lastEpoch = epoch;
        this.clear();
      }
      if (epoch === undefined) return this.shared(key, load);
    }
    const now = this.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && hit.until > now && hit.generation === this.generation) return hit.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const generation = this.generation;
    const value = load();
    const entry = { value, until: now + this.ttlMs, generation };
    this.entries.set(key, entry);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return value;
  }

  /**
   * While untrusted: concurrent lookups of one key share the load in flight
   * (as they would be answered the same by the database), and nothing is
   * kept once it settles. Without the sharing, a burst of a client's first
   * requests would each verify its secret and count as an attempt against
   * its throttle.
   */
  private shared(key: string, load: () => Promise<V>): Promise<V> {
    const running = this.inflight.get(key);
    if (running) return running;
    const value = load();
    this.inflight.set(key, value);
    const settled = () => {
      if (this.inflight.get(key) === value) this.inflight.delete(key);
    };
    value.then(settled, settled);
    return value;
  }

  /** Drops everything, including loads still in flight. */
  clear(): void {
    this.generation++;
    this.entries.clear();
    this.inflight.clear();
  }

  /** How many entries are held (expired ones included, until looked up or cleared). */
  get size(): number {
    return this.entries.size;
  }
}
