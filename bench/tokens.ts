/**
 * Token-endpoint throughput (decision + durable record + ES256 signature per
 * token) against the decision endpoint, in the same server and run.
 */
import { createClientCredential } from '../src/auth/clients/clientCredentials.ts';
import { loadConfig } from '../src/config.ts';
import { createSql } from '../src/db/client.ts';
import { createLogger } from '../src/logger.ts';
import { wire } from '../src/wire.ts';
import { load, startBench } from './harness.ts';
import { printTable, writeResult } from './util.ts';

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  let cred: { client_id: string; client_secret?: string } | undefined;
  // A training job in the same project, sponsored by the scientist, with credentials.
  const { base, seeded, stop } = await startBench({
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
    await stop();
  }
}
