/**
 * `node src/main.ts` with two workers (node cluster) on one port: both
 * answer, each from its own facts in memory and into its own decision log
 * chain; a fact change reaches both through their own listeners; a worker
 * killed with SIGKILL is replaced; SIGTERM drains both, and every decision
 * answered has its record.
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

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('two workers on one port', () => {
  let db: TestDatabase;
  let child: ChildProcess;
  let out = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let url: string;
  let auth: string;
  let scientist: string;
  let answered = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The world, written straight through the stores: a project, a PHI dataset, a scientist, an enforcement point.
    const config = loadConfig({ DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_LOG_LEVEL: 'silent' });
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

  /** One decision on a new connection (the cluster hands connections out in turn). */
  function decide(): Promise<{ status: number; effect?: string }> {
    const body = JSON.stringify({ principal_id: scientist, dataset: 'notes', purpose: 'model-training', columns: ['note_text'] });
    return new Promise((resolve, reject) => {
      const req = request(`${url}/v1/decisions`, { method: 'POST', agent: false, headers: { authorization: auth, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          if (res.statusCode === 200) answered++;
          resolve({ status: res.statusCode!, effect: res.statusCode === 200 ? (JSON.parse(text) as { effect: string }).effect : undefined });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const chains = async () => (await db.sql`SELECT count(DISTINCT chain_id)::int AS n FROM decision_log`)[0]!.n as number;

  it('answers on both workers, each with its facts in memory and its own log chain', async () => {
    const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; worker?: number; principals?: number });
    expect(lines.filter((l) => l.msg === 'catalog facts in memory').map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(lines.find((l) => l.msg === 'catalog facts in memory')!.principals).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 8; i++) expect(await decide()).toEqual({ status: 200, effect: 'allow' });
    expect(await chains()).toBe(2);
  });

  it('a role removed is seen by every worker through its own listener, within a second', async () => {
    const t0 = Date.now();
    await db.sql`DELETE FROM role_assignments WHERE principal_id = ${scientist}`;
    // Ten denies in a row on new connections (alternating workers); no periodic re-read exists to wait for.
    let streak = 0;
    while (streak < 10) {
      expect(Date.now() - t0, 'both workers deny within 1 s').toBeLessThan(1000);
      streak = (await decide()).effect === 'deny' ? streak + 1 : 0;
    }
    const since = await db.sql`SELECT count(DISTINCT chain_id)::int AS n FROM decision_log WHERE at >= ${new Date(t0)} AND effect = 'deny'`;
    expect(since[0]!.n).toBe(2);
  });

  it('replaces a worker killed with SIGKILL, and keeps answering', async () => {
    const pids = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; pid: number })
      .filter((l) => l.msg === 'custos is listening')
      .map((l) => l.pid);
    expect(pids).toHaveLength(2);
    process.kill(pids[0]!, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    while ((out.match(/"msg":"custos is listening"/g) ?? []).length < 3) {
      if (Date.now() > deadline) throw new Error(`no replacement:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(out).toContain('a worker exited; starting another');
    for (let i = 0; i < 4; i++) expect((await decide()).status).toBe(200);
  });

  it('SIGTERM drains every worker and the primary exits 0, with a record for every answer', async () => {
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    const msgs = out.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs.filter((m) => m === 'worker stopped')).toHaveLength(2);
    expect(msgs[msgs.length - 1]).toBe('stopped');
    const [{ n }] = (await db.sql`SELECT count(*)::int AS n FROM decision_log`) as unknown as [{ n: number }];
    expect(n).toBe(answered);
  });
});
