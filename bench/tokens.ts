/**
 * Token-endpoint throughput (decision + durable record + ES256 signature per
 * token) against the decision endpoint, in the same server and run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createClientCredential } from '../src/auth/clientCredentials.ts';
import { loadConfig } from '../src/config.ts';
import { createSql } from '../src/db/client.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';
import { wire } from '../src/main.ts';
import { freePort } from '../test/support/global-setup.ts';
import { seedBenchWorld } from './seed.ts';
import { printTable, writeResult } from './util.ts';

function load(o: { url: string; headers: Record<string, string>; body: string; seconds: number; connections: number }) {
  return new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ url: o.url, method: 'POST', headers: o.headers, body: o.body, duration: o.seconds, connections: o.connections }, (err, res) => (err ? reject(err) : resolve(res)));
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

  // A training job in the same project, sponsored by the scientist, with credentials.
  const config = loadConfig({ DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: key, CUSTOS_LOG_LEVEL: 'silent' });
  const sql = createSql({ url: databaseUrl, max: 2 });
  const wired = wire({ config, sql, log: createLogger({ level: 'silent' }), encryptionKey: config.encryptionKey! });
  const job = await wired.catalog.createPrincipal({ kind: 'service', name: 'train-bench', sponsor_id: seeded.scientistId, project_id: 'onc' });
  await wired.catalog.assignRole({ principal_id: job.id, role_id: 'data-scientist', project_id: 'onc' }, null);
  const cred = await createClientCredential(wired.auth, { principalId: job.id, createdBy: seeded.scientistId, meta: { ip: undefined, requestId: undefined } });
  await sql.end();
  const jobAuth = `Basic ${Buffer.from(`${encodeURIComponent(cred.client_id)}:${encodeURIComponent(cred.client_secret!)}`).toString('base64')}`;
  const tokenBody = new URLSearchParams({
    grant_type: 'client_credentials',
    authorization_details: JSON.stringify([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text', 'icd10', 'admit_date'], purpose: 'model-training' }]),
    job_id: 'bench-job',
  }).toString();

  const port = await freePort();
  const server = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: key, PORT: String(port), CUSTOS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    server.on('exit', (code) => reject(new Error(`bench server exited ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const seconds = smoke ? 3 : 15;
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  const tokenHeaders = { authorization: jobAuth, 'content-type': 'application/x-www-form-urlencoded' };
  try {
    await load({ url: `${base}/oauth2/token`, headers: tokenHeaders, body: tokenBody, seconds: 2, connections });
    await load({ url: `${base}/v1/decisions`, headers: seeded.headers, body: seeded.body, seconds: 2, connections });
    const decisions = await load({ url: `${base}/v1/decisions`, headers: seeded.headers, body: seeded.body, seconds, connections });
    const tokens = await load({ url: `${base}/oauth2/token`, headers: tokenHeaders, body: tokenBody, seconds, connections });
    if (tokens.non2xx) throw new Error(`${tokens.non2xx} token requests failed`);
    const ratio = tokens.requests.average / decisions.requests.average;
    printTable('Token endpoint vs decision endpoint (same server, same run)', [
      ['connections', connections],
      ['seconds per run', seconds],
      ['decisions req/s', decisions.requests.average],
      ['decisions p99 ms', decisions.latency.p99],
      ['tokens req/s', tokens.requests.average],
      ['tokens p99 ms', tokens.latency.p99],
      ['tokens issued', tokens['2xx']],
      ['ratio', `${(ratio * 100).toFixed(1)} %`],
    ]);
    writeResult('tokens', {
      tokens_per_s: Math.round(tokens.requests.average),
      decisions_per_s: Math.round(decisions.requests.average),
      ratio: Math.round(ratio * 1000) / 1000,
      p99_ms: tokens.latency.p99,
      decisions_p99_ms: decisions.latency.p99,
      tokens_issued: tokens['2xx'],
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
