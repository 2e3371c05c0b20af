/**
 * `npm run bench -- soak [--minutes N] [--rate R] [--smoke]`: the real
 * server (`node src/main.ts`, default workers: `CUSTOS_WORKERS=auto`) on the embedded
 * PostgreSQL, under a steady load for 30 minutes by default: the hospital
 * workload's decision requests (rotating over its principals and datasets)
 * with token requests of several training jobs among them (one call in ten),
 * at R calls a second (500 by default, about two thirds of this 2-core
 * machine with the load generator on it; 0: as fast as the server answers).
 *
 * After a warm-up, one sample a minute (every 10 s for --smoke, which runs
 * about a minute in all): resident memory, open file descriptors (all the
 * server's processes, from /proc), heap used and event-loop delay (the
 * server's own /metrics), throughput and latency of that minute's calls,
 * and PostgreSQL's connections and memory. The summary says how far memory
 * and p99 moved between minute 5 and the last minute (bench/soak/summary.ts),
 * and whether that is within 10 %. Every answered call must be 2xx, and
 * every one must have its decision record. The 30-minute run writes
 * bench/results/soak.json; another length writes soak-Nmin.json, --smoke
 * soak.smoke.json.
 */
import os from 'node:os';
import { startCustos } from './custos-process.ts';
import { startHospitalDatabase } from './hospital/database.ts';
import { custosBody } from './hospital/custos.ts';
import { SIZES } from './hospital/world.ts';
import { cpuSinceLast, fdCount, rssMb } from './procs.ts';
import { soakAgent, soakWindow, type SoakCall, type WindowResult } from './soak/load.ts';
import { scrapeGauges, type ServerGauges } from './soak/scrape.ts';
import { baselineIndex, drift, TOLERANCE_PERCENT } from './soak/summary.ts';
import { tokenCalls } from './soak/tokens.ts';
import { printTable, writeResult } from './util.ts';

/** A numeric flag (`--name N`), or the default. */
function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}

/** One sample: the window's calls, and the processes at its end. */
interface Sample extends ServerGauges {
  /** Minutes since sampling began, at the end of this window. */
  minute: number;
  rss_mb: number;
  fds: number;
  server_processes: number;
  calls_per_s: number;
  decisions_per_s: number;
  tokens_per_s: number;
  p50_ms: number;
  p99_ms: number;
  decision_p99_ms: number;
  token_p99_ms: number;
  non_2xx: number;
  errors: number;
  dropped: number;
  pg_connections: number;
  /** PostgreSQL's processes' resident memory summed (its shared buffers count once in each process that touched them). */
  pg_rss_mb: number;
  load_average: number;
  /** CPU of the server's processes and of PostgreSQL's over the window, in % of one core (procs.ts cpuSinceLast: a process that ended in the window loses its last moments). */
  server_cpu_pct: number;
  pg_cpu_pct: number;
  /** Garbage collection in the workers over the window, summed over them: scavenges, full collections' pauses, incremental marking steps (ms). */
  gc_minor_ms: number;
  gc_major_ms: number;
  gc_incremental_ms: number;
}

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const minutes = flag('minutes', smoke ? 1 : 30);
  const sampleSeconds = smoke ? 10 : 60;
  const windows = Math.max(1, Math.round((minutes * 60) / sampleSeconds));
  const warmSeconds = smoke ? 5 : 30;
  const rate = flag('rate', 500);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  const loadAverage = os.loadavg().map((x) => Math.round(x * 100) / 100);

  const db = await startHospitalDatabase(smoke ? SIZES.small : SIZES.full);
  let server: Awaited<ReturnType<typeof startCustos>> | undefined;
  try {
    const tokens = await tokenCalls({ databaseUrl: db.databaseUrl, key: db.key, world: db.world, max: smoke ? 10 : 50 });
    const decisions: SoakCall[] = db.world.requests.map((r) => ({ kind: 'decision', path: '/v1/decisions', headers: db.seeded.headers, body: custosBody(r) }));
    // One call in ten a token request, the clients taking turns.
    const calls: SoakCall[] = decisions.flatMap((d, i) => (i % 9 === 8 ? [d, tokens[Math.floor(i / 9) % tokens.length]!] : [d]));
    server = await startCustos({ databaseUrl: db.databaseUrl, key: db.key });
    const s = server;
    const records = () => db.seeded.countRecords();
    const pgConnections = async () => {
      // Custos's sessions only: not this process's own readings.
      const [r] = await db.admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'custos' AND backend_type = 'client backend' AND application_name <> ${`custos/${process.pid}`}`;
      return r!.n as number;
    };

    const agent = soakAgent(connections);
    let next = 0;
    next = (await soakWindow({ base: s.url, agent, calls, seconds: warmSeconds, connections, rate, start: next })).next;
    // The scrape resets the event-loop histogram: the first sample covers its own window only.
    let { gc: gcBefore } = await scrapeGauges(s.url);
    const serverCpu = new Map<number, number>();
    const pgCpu = new Map<number, number>();
    cpuSinceLast(s.pids(), serverCpu);
    cpuSinceLast(db.pids(), pgCpu);
    let cpuAt = performance.now();
    const recordsBefore = await records();
    const samples: Sample[] = [];
    const windowsSeen: WindowResult[] = [];
    const t0 = performance.now();
    for (let i = 0; i < windows; i++) {
      const w = await soakWindow({ base: s.url, agent, calls, seconds: sampleSeconds, connections, rate, start: next });
      next = w.next;
      windowsSeen.push(w);
      const pids = s.pids();
      const { gc, ...gauges } = await scrapeGauges(s.url);
      const now = performance.now();
      const share = (seconds: number) => Math.round((seconds / ((now - cpuAt) / 1000)) * 1000) / 10;
      const gcMs = (k: keyof typeof gc) => Math.round((gc[k] - gcBefore[k]) * 1e4) / 10;
      const sample: Sample = {
        minute: Math.round(((performance.now() - t0) / 60_000) * 100) / 100,
        rss_mb: Math.round(rssMb(pids)),
        fds: fdCount(pids),
        server_processes: pids.length,
        ...gauges,
        calls_per_s: w.all.per_s,
        decisions_per_s: w.decision.per_s,
        tokens_per_s: w.token.per_s,
        p50_ms: w.all.p50_ms,
        p99_ms: w.all.p99_ms,
        decision_p99_ms: w.decision.p99_ms,
        token_p99_ms: w.token.p99_ms,
        non_2xx: w.all.non_2xx,
        errors: w.errors,
        dropped: w.dropped,
        pg_connections: await pgConnections(),
        pg_rss_mb: Math.round(rssMb(db.pids())),
        load_average: Math.round(os.loadavg()[0]! * 100) / 100,
        server_cpu_pct: share(cpuSinceLast(pids, serverCpu)),
        pg_cpu_pct: share(cpuSinceLast(db.pids(), pgCpu)),
        gc_minor_ms: gcMs('minor'),
        gc_major_ms: gcMs('major'),
        gc_incremental_ms: gcMs('incremental'),
      };
      gcBefore = gc;
      cpuAt = now;
      samples.push(sample);
      process.stdout.write(`${JSON.stringify(sample)}\n`);
    }
    const recorded = (await records()) - recordsBefore;
    const answered2xx = windowsSeen.reduce((a, w) => a + w.all.answered - w.all.non_2xx, 0);
    agent.destroy();
    const warnings = s.warnings();
    await s.stop();

    const base = baselineIndex(samples.length, sampleSeconds);
    const series = (k: keyof Sample) => samples.map((x) => x[k] as number);
    const memory = drift(series('rss_mb'), base.index);
    const p99 = drift(series('p99_ms'), base.index);
    const heap = drift(series('heap_used_mb'), base.index);
    const eventloop = drift(series('eventloop_p99_ms'), base.index);
    const fds = { baseline: samples[base.index]!.fds, last: samples.at(-1)!.fds, min: Math.min(...series('fds')), max: Math.max(...series('fds')) };
    const non2xx = samples.reduce((a, x) => a + x.non_2xx, 0);
    const errors = samples.reduce((a, x) => a + x.errors, 0);
    const dropped = samples.reduce((a, x) => a + x.dropped, 0);
    const first = samples[base.index]!;
    const last = samples.at(-1)!;
    const span = (k: keyof Sample) => `${Math.min(...series(k))} – ${Math.max(...series(k))}`;
    const verdict = (d: { change_percent: number; flat: boolean }) => `${d.change_percent > 0 ? '+' : ''}${d.change_percent} % ${d.flat ? '✔' : '✘'}`;
    printTable(`Soak${smoke ? ' (smoke)' : ''}: ${samples.length} samples of ${sampleSeconds} s at ${rate || 'unlimited'} calls/s, ${connections} connections, ${last.server_processes} server processes; baseline ${base.label}`, [
      ['hospital', `${db.world.principals.length} principals, ${db.world.datasets.length} datasets, ${db.policy.rules} rules; ${tokens.length} token clients`],
      ['calls/s (min – max)', span('calls_per_s')],
      ['resident memory MB, baseline → last', `${memory.baseline} → ${memory.last}: ${verdict(memory)}`],
      ['p99 ms, baseline → last', `${p99.baseline} → ${p99.last}: ${verdict(p99)}`],
      ['heap used MB, baseline → last', `${heap.baseline} → ${heap.last} (${heap.change_percent} %)`],
      ['event-loop delay p99 ms, baseline → last', `${eventloop.baseline} → ${eventloop.last} (max over the run ${Math.max(...series('eventloop_max_ms'))})`],
      ['file descriptors, baseline → last (min – max)', `${fds.baseline} → ${fds.last} (${fds.min} – ${fds.max})`],
      ['PostgreSQL connections (min – max)', span('pg_connections')],
      ['CPU % of a core, server / PostgreSQL (min – max)', `${span('server_cpu_pct')} / ${span('pg_cpu_pct')}`],
      ['GC ms per sample: scavenges / full pauses / marking steps (min – max)', `${span('gc_minor_ms')} / ${span('gc_major_ms')} / ${span('gc_incremental_ms')}`],
      ['decision p99 ms / token p99 ms, last', `${last.decision_p99_ms} / ${last.token_p99_ms}`],
      ['non-2xx / no answer / not sent (server stalled)', `${non2xx} / ${errors} / ${dropped}`],
      ['records committed / 2xx answers', `${recorded} / ${answered2xx}`],
      ['server warnings and errors logged', warnings.count],
    ]);
    // Only the default length is the soak's result; a shorter or longer run is written beside it, under its own name.
    writeResult(minutes === 30 || smoke ? 'soak' : `soak-${minutes}min`, {
      summary: {
        baseline: base.label,
        baseline_minute: first.minute,
        last_minute: last.minute,
        tolerance_percent: TOLERANCE_PERCENT,
        memory_rss_mb: memory,
        p99_ms: p99,
        heap_used_mb: heap,
        eventloop_p99_ms: eventloop,
        fds,
        non_2xx: non2xx,
        errors,
        dropped,
        records_committed: recorded,
        answered_2xx: answered2xx,
        server_warnings: warnings.count,
        flat: memory.flat && p99.flat,
      },
      samples,
      minutes,
      sample_seconds: sampleSeconds,
      warm_up_seconds: warmSeconds,
      rate_per_s: rate,
      connections,
      token_share: '1 call in 10',
      token_clients: tokens.length,
      server: { command: 'node src/main.ts', workers: 'default (CUSTOS_WORKERS=auto)', processes: last.server_processes, log_level: 'info' },
      sizes: db.world.sizes,
      rules: db.policy.rules,
      load_average_at_start: loadAverage,
      smoke,
    });
    if (warnings.count) process.stderr.write(`server warnings:\n${warnings.last.join('\n')}\n`);
    if (non2xx || errors || dropped) throw new Error(`${non2xx} non-2xx answers, ${errors} calls without answer and ${dropped} not sent under the soak: ${windowsSeen.flatMap((w) => w.samples).slice(0, 5).join('\n')}`);
    if (recorded < answered2xx) throw new Error(`only ${recorded} records for ${answered2xx} 2xx answers`);
  } finally {
    await server?.stop();
    await db.stop();
  }
}
