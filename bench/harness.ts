/**
 * What the HTTP benchmarks share: an embedded PostgreSQL with a seeded
 * catalog, the bench server as a child process, and an autocannon run.
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
import { seedBenchWorld, type BenchWorld } from './seed.ts';

/** One autocannon run. */
export function load(o: { url: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; seconds: number; connections: number }): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url: o.url, method: o.method ?? 'POST', headers: o.headers, body: o.body, duration: o.seconds, connections: o.connections, pipelining: 1 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

/** A running benchmark setup. */
export interface BenchSetup {
  base: string;
  databaseUrl: string;
  key: string;
  seeded: BenchWorld;
  stop(): Promise<void>;
}

/** Starts PostgreSQL, seeds it (`extraSeed` may add more), and starts the bench server. */
export async function startBench(o: { extraSeed?: (s: { databaseUrl: string; key: string; seeded: BenchWorld }) => Promise<void> } = {}): Promise<BenchSetup> {
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
  const server = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), '--import', 'tsx', 'bench/server.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: key, PORT: String(port), CUSTOS_LOG_LEVEL: 'warn', CUSTOS_DB_POOL_MAX: '10' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    server.on('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  return {
    base: `http://127.0.0.1:${port}`,
    databaseUrl,
    key,
    seeded,
    async stop() {
      server.kill('SIGTERM');
      await seeded.close();
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
