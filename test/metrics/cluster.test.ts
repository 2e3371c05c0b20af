/**
 * Metrics of a cluster (`node src/main.ts`, two workers on one port): a
 * scrape lands on one worker, yet reports the whole server. Decisions made
 * on both workers (each writes its own log chain, so each worker's share is
 * known from the database) are summed in every scrape, whichever worker
 * answers it; the pool size is summed over the workers, and the build info
 * is one series of value 1, not one per worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { loadDefaultRoles } from '../../src/policy/loadDefaultRoles.ts';
import { wire } from '../../src/wire.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { freePort } from '../support/net.ts';
import { TEST_KEY } from '../support/app.ts';
import { count, parseScrape, value } from '../support/prometheusText.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One request on a new connection (the cluster hands connections out in turn). */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('metrics of two workers on one port', () => {
  let db: TestDatabase;
  let child: ChildProcess;
  let out = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let url: string;
  let auth: string;
  let scientist: string;
  let poolMax: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    const env0 = { DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_LOG_LEVEL: 'silent' };
    const config = loadConfig(env0);
    poolMax = config.dbPoolMax;
    const wired = wire({ config, sql: db.appSql, log: createLogger({ level: 'silent' }), encryptionKey: TEST_KEY });
    await loadDefaultRoles(wired.catalog);
    const c = wired.catalog;
    await c.createProject({ id: 'onc', name: 'Oncology' });
    scientist = (await c.createPrincipal({ kind: 'user', name: 'sci' })).id;
    await c.assignRole({ principal_id: scientist, role_id: 'data-scientist', project_id: 'onc' }, null);
    await c.createDataset({ id: 'notes', project_id: 'onc', owner_id: scientist, purposes: ['model-training'], columns: [{ name: 'note_text', type: 'string' }, { name: 'mrn', type: 'string', category: 'mrn' }] });
    const pep = await c.createPrincipal({ kind: 'service', name: 'notes-server', sponsor_id: scientist, project_id: 'onc' });
    await c.assignRole({ principal_id: pep.id, role_id: 'enforcement-point', project_id: null }, null);
    const cred = await createClientCredential(wired.catalogOps, { principalId: pep.id, actorId: scientist, meta: { ip: undefined, requestId: undefined } });
    auth = `Basic ${Buffer.from(`${encodeURIComponent(cred.client_id)}:${encodeURIComponent(cred.client_secret!)}`).toString('base64')}`;

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_') && k !== 'DATABASE_URL' && k !== 'PORT') env[k] = v;
    child = spawn(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { ...env, DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), PORT: String(port), CUSTOS_WORKERS: '2', CUSTOS_AUTO_BOOTSTRAP: 'false', CUSTOS_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 30_000;
    while (!out.includes('all workers are listening')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`not ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await db?.drop();
  });

  it('every scrape, on either worker, sums the decisions made on both', async () => {
    const body = JSON.stringify({ principal_id: scientist, dataset: 'notes', purpose: 'model-training', columns: ['note_text'] });
    const allows = 10;
    for (let i = 0; i < allows; i++) {
      const r = await send(`${url}/v1/decisions`, 'POST', { authorization: auth, 'content-type': 'application/json' }, body);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text).effect).toBe('allow');
    }
    const denies = 3;
    const denyBody = JSON.stringify({ principal_id: scientist, dataset: 'notes', purpose: 'model-training', columns: ['mrn'] });
    for (let i = 0; i < denies; i++) expect(JSON.parse((await send(`${url}/v1/decisions`, 'POST', { authorization: auth, 'content-type': 'application/json' }, denyBody)).text).effect).toBe('deny');

    // Each worker wrote its own chain: both decided, and neither decided them all.
    const shares = (await db.sql`SELECT count(*)::int AS n FROM decision_log GROUP BY chain_id`).map((r) => r.n as number);
    expect(shares).toHaveLength(2);
    expect(Math.max(...shares)).toBeLessThan(allows + denies);

    // Four scrapes on new connections: both workers answer some of them.
    for (let i = 0; i < 4; i++) {
      const r = await send(`${url}/metrics`, 'GET', {});
      expect(r.status).toBe(200);
      const s = parseScrape(r.text);
      expect(value(s, 'custos_decisions_total', { effect: 'allow' })).toBe(allows);
      expect(value(s, 'custos_decisions_total', { effect: 'deny' })).toBe(denies);
      expect(value(s, 'custos_decision_denials_total', { reason: 'columns_not_granted' })).toBe(denies);
      expect(count(s, 'custos_decision_duration_seconds', { lane: 'decision' })).toBe(allows + denies);
      expect(value(s, 'custos_db_pool_max_connections')).toBe(2 * poolMax);
      expect(s.get('custos_build_info')!.metrics.map((x) => Number(x.value))).toEqual([1]);
    }
  });

  it('stops cleanly', async () => {
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
