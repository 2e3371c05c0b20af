/**
 * Cache statistics from the bench server's stderr. On SIGTERM each server
 * process writes one line per cache, `<name>: {"hits":N,"misses":N,...}`
 * (e.g. `facts: {"hits":N,"misses":N,"unknown":N}`: for the facts in memory a
 * miss is a lookup read from the database); with several worker
 * processes there is one line per process and cache, summed here. A server
 * that writes none yields no entry, reported as n/a.
 */

/** Summed counters of one cache, and its hit rate (hits over hits and misses). */
export interface CacheStats {
  hits: number;
  misses: number;
  hit_rate: number | null;
  [counter: string]: number | null;
}

export function parseCacheStats(stderr: string): Record<string, CacheStats> {
  const out: Record<string, CacheStats> = {};
  for (const m of stderr.matchAll(/^([a-z][a-z0-9 _-]*): (\{.*\})\s*$/gm)) {
    let counters: Record<string, unknown>;
    try {
      counters = JSON.parse(m[2]!);
    } catch {
      continue;
    }
    if (typeof counters.hits !== 'number' || typeof counters.misses !== 'number') continue;
    const c = (out[m[1]!] ??= { hits: 0, misses: 0, hit_rate: null });
    for (const [k, v] of Object.entries(counters)) if (typeof v === 'number') c[k] = (c[k] ?? 0) + v;
  }
  for (const c of Object.values(out)) c.hit_rate = c.hits + c.misses ? Math.round((c.hits / (c.hits + c.misses)) * 10_000) / 10_000 : null;
  return out;
}

/** `facts 97.3 % (12 fallbacks)`-style text per cache, or n/a for the facts cache when the server reported nothing. */
export function describeCaches(stats: Record<string, CacheStats>): [string, string][] {
  const names = new Set(['facts', ...Object.keys(stats)]);
  return [...names].map((n) => {
    const c = stats[n];
    if (!c) return [`${n} cache hit rate`, 'n/a'];
    const extra = Object.entries(c).filter(([k]) => !['hits', 'misses', 'hit_rate'].includes(k));
    const rate = c.hit_rate === null ? 'n/a' : `${(c.hit_rate * 100).toFixed(1)} %`;
    return [`${n} cache hit rate`, `${rate} (${c.hits} hits, ${c.misses} misses${extra.map(([k, v]) => `, ${v} ${k}`).join('')})`];
  });
}
