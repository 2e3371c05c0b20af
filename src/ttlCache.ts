/**
 * An in-memory cache whose entries expire after a wall-clock bound and can
 * all be dropped at once (catalog facts on the decision path, client
 * contexts of token requests).
 */
import type { Clock } from './clock.ts';

/** A cache whose entries expire and can all be dropped at once. */
export class TtlCache<V> {
  private entries = new Map<string, { value: Promise<V>; until: number; generation: number }>();
  private generation = 0;

  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  constructor(
    clock: Clock,
    ttlMs: number,
    maxEntries: number = 50_000,
  ) {
    this.clock = clock;
    this.ttlMs = ttlMs;
    this.maxEntries = maxEntries;
  }

  /** The cached value, or the loader's (shared by concurrent callers). Failures are not cached. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && hit.until > now && hit.generation === this.generation) return hit.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const generation = this.generation;
    const value = load();
    this.entries.set(key, { value, until: now + this.ttlMs, generation });
    value.catch(() => this.entries.delete(key));
    return value;
  }

  /** Drops everything, including loads still in flight. */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
