/**
 * Facts cached in memory for the decision path: "compile once, decide many"
 * applied to the catalog. An entry lives at most `ttlMs` (one second by
 * default: the replica-agreement bound of the product), and every catalog
 * change empties the cache sooner — at once for writes through this process,
 * within milliseconds for other replicas (PostgreSQL NOTIFY on custos_catalog).
 */
import type { Clock } from '../clock.ts';
import type { DatasetFacts, PrincipalFacts } from '../engine/types.ts';
import { TtlCache } from '../ttlCache.ts';
import type { FactsStore } from './facts.ts';

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
