/**
 * Reads the server's own gauges from GET /metrics (Prometheus text format),
 * as a scraper on the loopback address may without credentials
 * (CUSTOS_METRICS_ALLOW's default). With several workers the answer is
 * every worker's registry merged by the primary (src/metrics/cluster.ts):
 * heap summed, event-loop lag percentiles averaged and its maximum the
 * largest. prom-client resets its event-loop histogram at each scrape, so
 * one scrape a minute gives each minute's own delays. Node measures the
 * delay with a timer every 10 ms (prom-client's default precision) and
 * reports the whole interval: an idle loop reads about 10 ms, and the delay
 * proper is what exceeds it.
 */

/** The figures the soak samples. */
export interface ServerGauges {
  heap_used_mb: number;
  eventloop_p50_ms: number;
  eventloop_p99_ms: number;
  eventloop_max_ms: number;
}

/** Time spent in garbage collection since the workers started, in seconds, summed over them, by kind (V8's: minor = scavenges, major = full collections' pauses, incremental = marking steps). */
export interface GcSeconds {
  minor: number;
  major: number;
  incremental: number;
}

export async function scrapeGauges(base: string): Promise<ServerGauges & { gc: GcSeconds }> {
  const r = await fetch(`${base}/metrics`);
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}: ${(await r.text()).slice(0, 300)}`);
  const text = await r.text();
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    if (!line) throw new Error(`GET /metrics has no ${name}`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const ms = (s: number) => Math.round(s * 1e5) / 100;
  // A kind that has not run yet has no series.
  const gc = (kind: string): number => {
    const line = text.split('\n').find((l) => l.startsWith('nodejs_gc_duration_seconds_sum{') && l.includes(`kind="${kind}"`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return {
    gc: { minor: gc('minor'), major: gc('major'), incremental: gc('incremental') },
    heap_used_mb: Math.round((value('nodejs_heap_size_used_bytes') / 2 ** 20) * 10) / 10,
    eventloop_p50_ms: ms(value('nodejs_eventloop_lag_p50_seconds')),
    eventloop_p99_ms: ms(value('nodejs_eventloop_lag_p99_seconds')),
    eventloop_max_ms: ms(value('nodejs_eventloop_lag_max_seconds')),
  };
}
