/**
 * `npm run bench -- replicas [--smoke]`: 1 and then 3 replicas of the real
 * server (`node src/main.ts`, CUSTOS_WORKERS=1 each, as one pod each) behind
 * a round-robin TCP proxy (bench/replicas/proxy.ts) on one PostgreSQL, under
 * the hospital workload (decisions rotating over its principals and
 * datasets). Before the 3-replica run every request of the workload goes to
 * each replica directly, and all must answer alike (and as the oracle does).
 *
 * For each run: decisions/s and latency, and the CPU split between the
 * servers, PostgreSQL, the proxy and the load generator (from /proc), with
 * the CPU each spends per decision. Everything shares this machine's cores,
 * so more replicas cannot raise the throughput here; the CPU per decision
 * can be measured, and from it a projection to N cores is computed — on
 * paper, labelled so, not measured.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/net.ts';
import { startCustos, type CustosProcess } from './custos-process.ts';
import { procCpu } from './harness.ts';
import { custosBody } from './hospital/custos.ts';
import { startHospitalDatabase, type HospitalDatabase } from './hospital/database.ts';
import { rotatingLoad, type LoadResult } from './hospital/load.ts';
import { SIZES } from './hospital/world.ts';
import { cpuOf } from './procs.ts';
import { compareReplicas } from './replicas/agreement.ts';
import { printTable, writeResult } from './util.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ENV = { CUSTOS_WORKERS: '1' };

/** The round-robin proxy in a process of its own. */
async function startProxy(backends: readonly string[]): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['bench/replicas/proxy.ts', String(port), ...backends.map((b) => new URL(b).host)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('proxy ready') && resolve());
    child.once('exit', (code) => reject(new Error(`the proxy exited ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** CPU seconds of each participant, and the decisions/s and latency of one timed run. */
interface RunFigures {
  replicas: number;
  load: LoadResult;
  cpu_seconds: { servers: number; postgres: number; proxy: number; load_generator: number };
  /** Share of the machine (all cores, the run's wall time) each used, per cent; the rest went to other processes (the machine is shared) or idle. */
  cpu_percent_of_machine: { servers: number; postgres: number; proxy: number; load_generator: number; other_or_idle: number };
  cpu_us_per_decision: { servers: number; postgres: number; proxy: number; load_generator: number };
  /** How the decisions spread over the replicas (their own CPU seconds in the run). */
  server_cpu_seconds_each: number[];
}

async function timedRun(db: HospitalDatabase, replicas: readonly CustosProcess[], o: { warm: number; seconds: number; connections: number }): Promise<RunFigures> {
  const proxy = await startProxy(replicas.map((r) => r.url));
  try {
    const calls = db.world.requests.map((r) => ({ first: custosBody(r), second: null }));
    const load = (seconds: number) => rotatingLoad({ base: proxy.url, path: '/v1/decisions', headers: db.seeded.headers, calls, seconds, connections: o.connections });
    await load(o.warm);
    const read = () => {
      const self = process.cpuUsage();
      return { each: replicas.map((r) => cpuOf(r.pids())), postgres: cpuOf(db.pids()), proxy: procCpu(proxy.pid), load: (self.user + self.system) / 1e6, at: performance.now() };
    };
    const a = read();
    const timed = await load(o.seconds);
    const b = read();
    if (timed.non_2xx || timed.errors) throw new Error(`${timed.non_2xx} non-2xx answers and ${timed.errors} errors through the proxy with ${replicas.length} replica(s)`);
    const each = b.each.map((x, i) => round(x - a.each[i]!));
    const used = { servers: round(each.reduce((s, x) => s + x, 0)), postgres: round(b.postgres - a.postgres), proxy: round(b.proxy - a.proxy), load_generator: round(b.load - a.load) };
    const capacity = ((b.at - a.at) / 1000) * os.availableParallelism();
    const pct = (x: number) => Math.round((x / capacity) * 1000) / 10;
    const perDecision = (x: number) => Math.round((x / timed.decisions) * 1e6);
    const busy = used.servers + used.postgres + used.proxy + used.load_generator;
    return {
      replicas: replicas.length,
      load: timed,
      cpu_seconds: used,
      cpu_percent_of_machine: { servers: pct(used.servers), postgres: pct(used.postgres), proxy: pct(used.proxy), load_generator: pct(used.load_generator), other_or_idle: Math.max(0, Math.round((100 - (busy / capacity) * 100) * 10) / 10) },
      cpu_us_per_decision: { servers: perDecision(used.servers), postgres: perDecision(used.postgres), proxy: perDecision(used.proxy), load_generator: perDecision(used.load_generator) },
      server_cpu_seconds_each: each,
    };
  } finally {
    await proxy.stop();
  }
}

/**
 * On paper: decisions/s if Custos and PostgreSQL had N cores and every
 * decision cost what it was measured to cost, with the proxy and the load
 * generator elsewhere and nothing else limiting (no lock, disk or network
 * ceiling) — a linear extrapolation, not a measurement.
 */
function projection(r: RunFigures, cores: readonly number[]) {
  const both = r.cpu_us_per_decision.servers + r.cpu_us_per_decision.postgres;
  return {
    label: 'projection on paper, not measured',
    from: `CPU per decision measured with ${r.replicas} replicas: servers ${r.cpu_us_per_decision.servers} µs + PostgreSQL ${r.cpu_us_per_decision.postgres} µs`,
    assumes: 'linear scaling: Custos and PostgreSQL on N cores, proxy and load generator elsewhere, no lock, disk or network limit',
    cpu_us_per_decision: both,
    decisions_per_s_by_cores: Object.fromEntries(cores.map((n) => [String(n), Math.round((n * 1e6) / both)])),
    // PostgreSQL on machines of its own: what each core given to Custos adds.
    custos_only_decisions_per_s_per_core: Math.round(1e6 / r.cpu_us_per_decision.servers),
    postgres_only_decisions_per_s_per_core: Math.round(1e6 / r.cpu_us_per_decision.postgres),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const size = smoke ? { warm: 2, seconds: 5 } : { warm: 5, seconds: 20 };
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  const loadAverage = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const db = await startHospitalDatabase(smoke ? SIZES.small : SIZES.full);
  const replicas: CustosProcess[] = [];
  try {
    replicas.push(await startCustos({ databaseUrl: db.databaseUrl, key: db.key, env: ENV }));
    const one = await timedRun(db, replicas, { ...size, connections });
    replicas.push(...(await Promise.all([0, 1].map(() => startCustos({ databaseUrl: db.databaseUrl, key: db.key, env: ENV })))));
    const agreement = await compareReplicas({ world: db.world, replicas: replicas.map((r) => r.url), headers: db.seeded.headers, requests: db.world.requests });
    if (agreement.alike !== agreement.requests) {
      throw new Error(`${agreement.requests - agreement.alike} request(s) answered differently by the replicas:\n${agreement.differences.map((d) => `${JSON.stringify(d.request)}\n  ${d.answers.join('\n  ')}`).join('\n')}`);
    }
    if (agreement.oracle_agreed !== agreement.requests) throw new Error(`${agreement.requests - agreement.oracle_agreed} request(s) answered unlike the oracle`);
    const three = await timedRun(db, replicas, { ...size, connections });
    const cores = [2, 4, 8, 16, 32];
    const paper = projection(three, cores);
    const warnings = replicas.reduce((a, r) => a + r.warnings().count, 0);

    const rows = (r: RunFigures): [string, string | number][] => [
      [`${r.replicas} replica${r.replicas === 1 ? '' : 's'}: decisions/s`, r.load.decisions_per_s],
      ['  p50 / p99 ms', `${r.load.p50_ms} / ${r.load.p99_ms}`],
      ['  CPU % of the machine: servers / PostgreSQL / proxy / load generator / rest', `${r.cpu_percent_of_machine.servers} / ${r.cpu_percent_of_machine.postgres} / ${r.cpu_percent_of_machine.proxy} / ${r.cpu_percent_of_machine.load_generator} / ${r.cpu_percent_of_machine.other_or_idle}`],
      ['  CPU µs per decision: servers / PostgreSQL / proxy / load generator', `${r.cpu_us_per_decision.servers} / ${r.cpu_us_per_decision.postgres} / ${r.cpu_us_per_decision.proxy} / ${r.cpu_us_per_decision.load_generator}`],
      ['  server CPU s, each replica', r.server_cpu_seconds_each.join(' / ')],
    ];
    printTable(`Replicas${smoke ? ' (smoke)' : ''}: 1 and 3 processes (CUSTOS_WORKERS=1 each) behind a round-robin proxy, one PostgreSQL, ${os.availableParallelism()} cores shared by all`, [
      ['hospital', `${db.world.principals.length} principals, ${db.world.datasets.length} datasets, ${db.policy.rules} rules`],
      ['connections × seconds', `${connections} × ${size.seconds}`],
      ['answers alike on every replica / as the oracle', `${agreement.alike} / ${agreement.oracle_agreed} of ${agreement.requests}`],
      ...rows(one),
      ...rows(three),
      ['PROJECTION ON PAPER (not measured): CPU µs per decision, servers + PostgreSQL', paper.cpu_us_per_decision],
      ...cores.map((n): [string, string | number] => [`  on paper: decisions/s with ${n} cores for Custos and PostgreSQL`, paper.decisions_per_s_by_cores[String(n)]!]),
      ['  on paper: decisions/s per core given to Custos alone / to PostgreSQL alone', `${paper.custos_only_decisions_per_s_per_core} / ${paper.postgres_only_decisions_per_s_per_core}`],
      ['server warnings and errors logged', warnings],
    ]);
    writeResult('replicas', {
      runs: { '1': one, '3': three },
      agreement: { requests: agreement.requests, replicas: agreement.replicas, alike: agreement.alike, oracle_agreed: agreement.oracle_agreed },
      projection_on_paper: paper,
      proxy: 'round-robin TCP, a new connection to the next replica (layer 4, as a Kubernetes Service)',
      server: { command: 'node src/main.ts', env: ENV, log_level: 'info' },
      connections,
      seconds: size.seconds,
      warm_up_seconds: size.warm,
      sizes: db.world.sizes,
      rules: db.policy.rules,
      load_average_at_start: loadAverage,
      smoke,
    });
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
    await db.stop();
  }
}
