/**
 * Token-endpoint throughput (decision + durable record + ES256 signature per
 * token) against the decision endpoint, in the same server and run.
 */
import type autocannon from 'autocannon';
import { createClientCredential } from '../src/auth/clients/clientCredentials.ts';
import { loadConfig } from '../src/config.ts';
import { createSql } from '../src/db/client.ts';
import { createLogger } from '../src/logger.ts';
import { wire } from '../src/wire.ts';
import { addCpu, combine, cpuSince, load, startBench, type CpuSeconds } from './harness.ts';
import { printTable, writeResult } from './util.ts';

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  let cred: { client_id: string; client_secret?: string } | undefined;
  // A training job in the same project, sponsored by the scientist, with credentials.
  const { base, seeded, stop, cpu } = await startBench({
    extraSeed: async ({ databaseUrl, key, seeded }) => {
      const config = loadConfig({ DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: key, CUSTOS_LOG_LEVEL: 'silent' });
      const sql = createSql({ url: databaseUrl, max: 2 });
      const wired = wire({ config, sql, log: createLogger({ level: 'silent' }), encryptionKey: config.encryptionKey! });
      const job = await wired.catalog.createPrincipal({ kind: 'service', name: 'train-bench', sponsor_id: seeded.scientistId, project_id: 'onc' });
      await wired.catalog.assignRole({ principal_id: job.id, role_id: 'data-scientist', project_id: 'onc' }, null);
      cred = await createClientCredential(wired.catalogOps, { principalId: job.id, actorId: seeded.scientistId, meta: { ip: undefined, requestId: undefined } });
      await sql.end();
    },
  });
  const jobAuth = `Basic ${Buffer.from(`${encodeURIComponent(cred!.client_id)}:${encodeURIComponent(cred!.client_secret!)}`).toString('base64')}`;
  const tokenBody = new URLSearchParams({
    grant_type: 'client_credentials',
    authorization_details: JSON.stringify([{ type: 'dataset_access', dataset: 'onc-notes', actions: ['read'], columns: ['note_text', 'icd10', 'admit_date'], purpose: 'model-training' }]),
    job_id: 'bench-job',
  }).toString();

  const seconds = smoke ? 3 : 5;
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  const tokenHeaders = { authorization: jobAuth, 'content-type': 'application/x-www-form-urlencoded' };
  const decisionRun = (s: number) => load({ url: `${base}/v1/decisions`, headers: seeded.headers, body: seeded.body, seconds: s, connections });
  const tokenRun = (s: number) => load({ url: `${base}/oauth2/token`, headers: tokenHeaders, body: tokenBody, seconds: s, connections });
  try {
    await tokenRun(2);
    await decisionRun(2);
    // Alternating rounds, so drift in the load of this shared machine hits both sides alike.
    const rounds = smoke ? 1 : 3;
    const decisionRuns: autocannon.Result[] = [];
    const tokenRuns: autocannon.Result[] = [];
    let decCpu: CpuSeconds = { server: 0, postgres: 0, load: 0 };
    let tokCpu: CpuSeconds = { server: 0, postgres: 0, load: 0 };
    for (let i = 0; i < rounds; i++) {
      let t = cpu();
      decisionRuns.push(await decisionRun(seconds));
      decCpu = addCpu(decCpu, cpuSince(t, (t = cpu())));
      tokenRuns.push(await tokenRun(seconds));
      tokCpu = addCpu(tokCpu, cpuSince(t, cpu()));
    }
    const decisions = combine(decisionRuns);
    const tokens = combine(tokenRuns);
    if (tokens.non2xx) throw new Error(`${tokens.non2xx} token requests failed`);
    const ratio = tokens.requests.average / decisions.requests.average;
    const perRequest = (c: number, runs: autocannon.Result[]) => Math.round((c / runs.reduce((a, r) => a + r.requests.total, 0)) * 1e6);
    const serverUsPerToken = perRequest(tokCpu.server, tokenRuns);
    const serverUsPerDecision = perRequest(decCpu.server, decisionRuns);
    printTable('Token endpoint vs decision endpoint (same server, same run)', [
      ['connections', connections],
      ['rounds × seconds', `${rounds} × ${seconds}`],
      ['decisions req/s', decisions.requests.average],
      ['decisions p99 ms', decisions.latency.p99],
      ['tokens req/s', tokens.requests.average],
      ['tokens p99 ms', tokens.latency.p99],
      ['tokens issued', tokens['2xx']],
      ['ratio', `${(ratio * 100).toFixed(1)} %`],
      ['server CPU µs per decision', serverUsPerDecision],
      ['server CPU µs per token', serverUsPerToken],
      ['postgres CPU µs per decision / token', `${perRequest(decCpu.postgres, decisionRuns)} / ${perRequest(tokCpu.postgres, tokenRuns)}`],
    ]);
    writeResult('tokens', {
      tokens_per_s: Math.round(tokens.requests.average),
      decisions_per_s: Math.round(decisions.requests.average),
      ratio: Math.round(ratio * 1000) / 1000,
      p99_ms: tokens.latency.p99,
      decisions_p99_ms: decisions.latency.p99,
      tokens_issued: tokens['2xx'],
      server_cpu_us_per_token: serverUsPerToken,
      server_cpu_us_per_decision: serverUsPerDecision,
      connections,
      seconds,
      rounds,
      smoke,
    });
  } finally {
    await stop();
  }
}
