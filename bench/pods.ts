/**
 * `npm run bench -- pods`: what a pod costs before it serves, for the choice
 * between one worker per pod and several (docs/kubernetes.md). Starts the
 * real server (`node src/main.ts`, as the image runs it) on a migrated
 * database of the embedded PostgreSQL, with 1 and with 2 workers, several
 * times each, and measures the time until it listens (all workers) and the
 * resident memory of all its processes 3 s later, idle, on an empty catalog.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSql } from '../src/db/client.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { freePort } from '../test/support/net.ts';
import { printTable, writeResult } from './util.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

async function rssMb(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
async function childPids(pid: number): Promise<number[]> {
  return (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean).map(Number);
}

/** One start: milliseconds until listening, processes, total resident MB once idle. */
async function once(url: string, workers: number): Promise<{ readyMs: number; processes: number; rssMb: number }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_') && k !== 'DATABASE_URL' && k !== 'PORT') env[k] = v;
  Object.assign(env, { DATABASE_URL: url, CUSTOS_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'), CUSTOS_AUTO_BOOTSTRAP: 'false', CUSTOS_WORKERS: String(workers), PORT: String(await freePort()) });
  const t0 = performance.now();
  const child = spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const ready = workers === 1 ? 'custos is listening' : 'all workers are listening';
  while (!out.includes(ready)) {
    if (child.exitCode !== null) throw new Error(`the server exited:\n${out}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const readyMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 3000));
  const pids = [child.pid!, ...(await childPids(child.pid!))];
  let rss = 0;
  for (const p of pids) rss += await rssMb(p);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('close', r));
  return { readyMs, processes: pids.length, rssMb: rss };
}

/** Runs the benchmark. */
export async function run(o: { smoke: boolean }): Promise<void> {
  const runs = o.smoke ? 1 : 5;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-bench-pods-'));
  await chmod(dir, 0o711);
  const pg = await startEmbeddedPostgres({ dir, port: await freePort() });
  try {
    const admin = createSql({ url: pg.adminUrl, max: 1 });
    await admin.unsafe('CREATE DATABASE custos');
    await admin.end();
    const owner = createSql({ url: pg.urlFor('custos'), max: 1 });
    await migrate(owner);
    await owner.end();
    const figures: Record<string, unknown> = { smoke: o.smoke, runs };
    const rows: [string, string | number][] = [];
    for (const workers of [1, 2]) {
      const samples = [];
      for (let i = 0; i < runs; i++) samples.push(await once(pg.urlFor('custos'), workers));
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const result = {
        processes: samples[0]!.processes,
        ready_ms_median: Math.round(median(samples.map((s) => s.readyMs))),
        ready_ms: samples.map((s) => Math.round(s.readyMs)),
        rss_mb_median: Math.round(median(samples.map((s) => s.rssMb))),
        rss_mb: samples.map((s) => Math.round(s.rssMb)),
      };
      figures[`workers_${workers}`] = result;
      rows.push([`${workers} worker${workers === 1 ? '' : 's'}: processes`, result.processes], [`  ready (median ms)`, result.ready_ms_median], [`  resident memory, all processes (median MB)`, result.rss_mb_median]);
    }
    printTable('A pod before it serves (empty catalog, idle)', rows);
    writeResult('pods', figures);
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
