/**
 * Facts cached in memory for the decision path: "compile once, decide many"
 * applied to the catalog. An entry lives at most `ttlMs` (one second by
 * default: the replica-agreement bound of the product), and every catalog
 * change empties the cache sooner — at once for writes through this process,
 * within milliseconds for other replicas (PostgreSQL NOTIFY on custos_catalog).
 */
import type { Clock } from '../clock.ts';
import type { DatasetFacts, PrincipalFacts } from '../engine/types.ts';
import type { FactsStore } from './facts.ts';

/** A cache whose entries expire and can all be dropped at once. */
export class TtlCache<V> {
  private entries = new Map<string, { value: Promise<V>; until: number; generation: number }>();
  private generation = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
  ) {}

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

/** A FactsStore in front of another, with {@link TtlCache}s. */
export function cachedFacts(inner: FactsStore, clock: Clock, ttlMs = 1000): FactsStore & { invalidate(): void } {
  const principals = new TtlCache<PrincipalFacts | undefined>(clock, ttlMs);
  const datasets = new TtlCache<DatasetFacts | undefined>(clock, ttlMs);
  return {
    principal: (id, now) => principals.get(id, () => inner.principal(id, now)),
    dataset: (id, now) => datasets.get(id, () => inner.dataset(id, now)),
    invalidate() {
      principals.clear();
      datasets.clear();
    },
  };
}
