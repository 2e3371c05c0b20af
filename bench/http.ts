/**
 * HTTP decision throughput with durable records (every answer's record is
 * committed first) against a bare express hello-world route served by the
 * same process, on one machine: ratio and p99 latency.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createSql } from '../src/db/client.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { freePort } from '../test/support/global-setup.ts';
import { printTable, writeResult } from './util.ts';
import { seedBenchWorld } from './seed.ts';

/** Runs autocannon against one request shape. */
function load(o: { url: string; method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; seconds: number; connections: number }) {
  return new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ url: o.url, method: o.method, headers: o.headers, body: o.body, duration: o.seconds, connections: o.connections, pipelining: 1 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-bench-'));
  const pg = await startEmbeddedPostgres({ dir, port: await freePort() });
  const admin = createSql({ url: pg.adminUrl, max: 1 });
  await admin.unsafe('CREATE DATABASE custos');
  await admin.end();
  const databaseUrl = pg.urlFor('custos');
  const key = randomBytes(32).toString('base64');
  const seeded = await seedBenchWorld({ databaseUrl, key });

  const port = await freePort();
  const server = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), '--import', 'tsx', 'bench/server.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: key, PORT: String(port), CUSTOS_LOG_LEVEL: 'warn', CUSTOS_DB_POOL_MAX: '10' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    server.on('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const seconds = smoke ? 3 : 15;
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  try {
    // Warm both paths (JIT, connection pool, credential cache).
    await load({ url: `${base}/hello`, method: 'GET', seconds: 2, connections });
    await load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds: 2, connections });
    const before = await seeded.countRecords();

    const hello = await load({ url: `${base}/hello`, method: 'GET', seconds, connections });
    const decisions = await load({ url: `${base}/v1/decisions`, method: 'POST', headers: seeded.headers, body: seeded.body, seconds, connections });
    const recorded = (await seeded.countRecords()) - before;

    const helloRps = hello.requests.average;
    const decRps = decisions.requests.average;
    const ratio = decRps / helloRps;
    printTable('HTTP: durable decisions vs bare express hello-world (same process)', [
      ['connections', connections],
      ['seconds per run', seconds],
      ['hello req/s', helloRps],
      ['hello p99 ms', hello.latency.p99],
      ['decisions req/s', decRps],
      ['decisions p99 ms', decisions.latency.p99],
      ['decisions 2xx', decisions['2xx']],
      ['decisions non-2xx', decisions.non2xx],
      ['records committed', recorded],
      ['ratio', `${(ratio * 100).toFixed(1)} %`],
    ]);
    if (recorded < decisions['2xx']) throw new Error(`only ${recorded} records for ${decisions['2xx']} answers`);
    writeResult('http', {
      decisions_per_s: Math.round(decRps),
      hello_per_s: Math.round(helloRps),
      ratio: Math.round(ratio * 1000) / 1000,
      p99_ms: decisions.latency.p99,
      hello_p99_ms: hello.latency.p99,
      answered_2xx: decisions['2xx'],
      non_2xx: decisions.non2xx,
      records_committed: recorded,
      connections,
      seconds,
      smoke,
    });
  } finally {
    server.kill('SIGTERM');
    await seeded.close();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
