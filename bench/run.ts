/**
 * `npm run bench -- NAME [--smoke]`: runs one benchmark, prints its table and
 * writes bench/results/NAME.json. `--smoke` runs a small size (for CI).
 */
const name = process.argv[2];
const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const benches: Record<string, () => Promise<{ run(o: { smoke: boolean }): Promise<void> }>> = {
  decide: () => import('./decide.ts'),
  http: () => import('./http.ts'),
  tokens: () => import('./tokens.ts'),
  audit: () => import('./audit.ts'),
  facts: () => import('./facts.ts'),
  hospital: () => import('./hospital.ts'),
  peers: () => import('./peers.ts'),
  alerts: () => import('./alerts.ts'),
  // Faults at load: replicas and PostgreSQL failing under tokens and decisions (docs/operations.md, "Faults").
  faults: () => import('./faults.ts'),
  pods: () => import('./pods.ts'),
  // Long-run flatness (memory, descriptors, event-loop delay, p99) and 1 against 3 replicas (docs/operations.md, "Soak", "Replicas").
  soak: () => import('./soak.ts'),
  replicas: () => import('./replicas.ts'),
  // What the rate limits cost a request (docs/rate-limits.md).
  ratelimit: () => import('./ratelimit.ts'),
};
if (!name || !benches[name]) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [--smoke]\n`);
  process.exit(2);
}
const mod = await benches[name]!();
await mod.run({ smoke });
