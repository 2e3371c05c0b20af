/**
 * What the HTTP benchmarks share: an embedded PostgreSQL with a seeded
 * catalog, the bench server as a child process, and an autocannon run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createSql } from '../src/db/client.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { freePort } from '../test/support/net.ts';
import { seedBenchWorld, type BenchWorld } from './seed.ts';

/** Node options for a bench's server process (`BENCH_NODE_FLAGS`, e.g. `--trace-gc`; cluster workers inherit them). */
export function serverNodeFlags(): string[] {
  return process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
}

/** Appends what a bench's server writes to `BENCH_SERVER_OUTPUT`, when set. */
export function copyServerOutput(child: ChildProcess): void {
  const file = process.env.BENCH_SERVER_OUTPUT;
  if (!file) return;
  child.stdout?.on('data', (d: Buffer | string) => appendFileSync(file, d));
  child.stderr?.on('data', (d: Buffer | string) => appendFileSync(file, d));
}

/** One autocannon run. */
export function load(o: { url: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; seconds: number; connections: number }): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url: o.url, method: o.method ?? 'POST', headers: o.headers, body: o.body, duration: o.seconds, connections: o.connections, pipelining: 1 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

/** Several runs as one: mean rate over all of them, the worst p99, summed counts. */
export function combine(rs: autocannon.Result[]): { requests: { average: number }; latency: { p99: number }; '2xx': number; non2xx: number } {
  return {
    requests: { average: rs.reduce((a, r) => a + r.requests.average, 0) / rs.length },
    latency: { p99: Math.max(...rs.map((r) => r.latency.p99)) },
    '2xx': rs.reduce((a, r) => a + r['2xx'], 0),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
  };
}

/** A running benchmark setup. */
export interface BenchSetup {
  base: string;
  databaseUrl: string;
  key: string;
  seeded: BenchWorld;
  /** CPU seconds used so far by the server, by PostgreSQL (all its processes) and by this process (the load generator). */
  cpu(): CpuSeconds;
  /** What the server wrote to stderr so far (also passed through); after stop(), including what it wrote on SIGTERM. */
  serverStderr(): string;
  /** Stops the server and starts it again on the same database and port, with `env` added (e.g. a feature on or off). */
  restartServer(env: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/** CPU seconds (user + system) per participant. */
export interface CpuSeconds {
  server: number;
  postgres: number;
  load: number;
}

/** user + system CPU seconds of a process, from /proc (Linux); 0 if it is gone. */
export function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** A process and its children (the bench server's cluster workers). */
export function withChildren(parent: number): number[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  return [parent, ...all.filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
    } catch {
      return false;
    }
  })];
}

/** The PostgreSQL processes of the server whose data folder is `dir`: the postmaster and its children. */
export function postgresPids(dir: string): number[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const master = all.find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  });
  return master === undefined ? [] : withChildren(master);
}

/** CPU used between two readings. */
export function cpuSince(a: CpuSeconds, b: CpuSeconds): CpuSeconds {
  return { server: b.server - a.server, postgres: b.postgres - a.postgres, load: b.load - a.load };
}

/** The sum of two CPU readings. */
export function addCpu(a: CpuSeconds, b: CpuSeconds): CpuSeconds {
  return { server: a.server + b.server, postgres: a.postgres + b.postgres, load: a.load + b.load };
}

/** A fresh embedded PostgreSQL with an empty `custos` database for `fn`, stopped and removed afterwards whatever happens. */
export async function withScratchPostgres<T>(name: string, fn: (url: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `custos-${name}-`));
  const pg = await startEmbeddedPostgres({ dir, port: await freePort() });
  try {
    const admin = createSql({ url: pg.adminUrl, max: 1 });
    await admin.unsafe('CREATE DATABASE custos');
    await admin.end();
    return await fn(pg.urlFor('custos'));
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts PostgreSQL, seeds it (`extraSeed` may add more), and starts the bench server. */
export async function startBench(o: { extraSeed?: (s: { databaseUrl: string; key: string; seeded: BenchWorld }) => Promise<void>; serverEnv?: Record<string, string> } = {}): Promise<BenchSetup> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-bench-'));
  const pg = await startEmbeddedPostgres({ dir, port: await freePort() });
  const admin = createSql({ url: pg.adminUrl, max: 1 });
  await admin.unsafe('CREATE DATABASE custos');
  await admin.end();
  const databaseUrl = pg.urlFor('custos');
  const key = randomBytes(32).toString('base64');
  const seeded = await seedBenchWorld({ databaseUrl, key });
  await o.extraSeed?.({ databaseUrl, key, seeded });

  const port = await freePort();
  // Passed through as before, and kept: the server reports its statistics there on SIGTERM.
  let stderr = '';
  const startServer = async (extraEnv: Record<string, string>) => {
    const child = spawn(process.execPath, [...serverNodeFlags(), ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), 'bench/server.ts'], {
      env: { ...process.env, DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: key, PORT: String(port), CUSTOS_LOG_LEVEL: 'warn', CUSTOS_DB_POOL_MAX: '10', ...o.serverEnv, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    copyServerOutput(child);
    child.stderr!.on('data', (d: Buffer) => {
      process.stderr.write(d);
      stderr += d.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`bench server exited ${code}`)));
    });
    return { child, exited };
  };
  const stopServer = async (s: { child: ReturnType<typeof spawn>; exited: Promise<void> }) => {
    s.child.kill('SIGTERM');
    // Wait (a little) for its last words on stderr.
    await Promise.race([s.exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  };
  let current = await startServer({});
  return {
    base: `http://127.0.0.1:${port}`,
    databaseUrl,
    key,
    seeded,
    cpu() {
      const self = process.cpuUsage();
      return {
        server: withChildren(current.child.pid!).reduce((a, pid) => a + procCpu(pid), 0),
        postgres: postgresPids(dir).reduce((a, pid) => a + procCpu(pid), 0),
        load: (self.user + self.system) / 1e6,
      };
    },
    serverStderr: () => stderr,
    async restartServer(env) {
      await stopServer(current);
      current = await startServer(env);
    },
    async stop() {
      await stopServer(current);
      await seeded.close();
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
