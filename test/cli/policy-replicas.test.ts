/**
 * Two real Custos processes (`node src/main.ts`) on one fresh
 * database, with the periodic reload set to an hour so only LISTEN/NOTIFY
 * can carry a change: a policy edited through A decides on B within one
 * second, and the `custos policy` commands (history, diff, rollback, test)
 * work against the running servers and on local folders.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { freePort } from '../support/net.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = randomBytes(32).toString('base64');
const PROPAGATION_MS = 1_000;

let admin: Sql;
let tmp: string;
let dbName: string;
const children = new Set<ChildProcess>();

interface Proc {
  child: ChildProcess;
  out(): string;
  exited: Promise<number | null>;
}

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_') && k !== 'DATABASE_URL' && k !== 'HOST' && k !== 'PORT') env[k] = v;
  return { ...env, CUSTOS_DATA_DIR: path.join(tmp, 'data'), ...extra };
}

function launch(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => (children.delete(child), resolve(code))));
  return { child, out: () => out, exited };
}


async function startServer(databaseUrl: string): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = launch(['src/main.ts'], baseEnv({ DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: KEY, PORT: String(port), CUSTOS_POLICY_RELOAD_SECONDS: '3600', CUSTOS_LOG_LEVEL: 'warn', CUSTOS_WORKERS: '1' }));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`server exited early\n${proc.out()}`);
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
    if (res?.status === 200) return { proc, url };
    if (Date.now() > deadline) throw new Error(`server not ready\n${proc.out()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const p = launch(['bin/custos.js', ...args], baseEnv(env));
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, out: p.out() };
}

async function call(url: string, method: string, pathName: string, o: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(url + pathName, {
    method,
    headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

let a: { proc: Proc; url: string };
let b: { proc: Proc; url: string };
let token: string;
let adminId: string;

beforeAll(async () => {
  admin = createSql({ url: inject('pgAdminUrl'), max: 1 });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'custos-policy-'));
  dbName = `p_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`CREATE DATABASE ${dbName}`);
  const databaseUrl = inject('pgAdminUrl').replace(/\/postgres$/, `/${dbName}`);
  a = await startServer(databaseUrl);
  b = await startServer(databaseUrl);

  // The first administrator, enrolled through A with a TOTP factor (a fresh second factor: step-up holds).
  const secret = /cen_[A-Za-z0-9_-]+/.exec(a.proc.out())?.[0];
  expect(secret, a.proc.out()).toBeDefined();
  const enr = await call(a.url, 'POST', '/v1/auth/enroll', { body: { username: 'admin', enrollment_secret: secret, password: 'correct horse battery staple 42!' } });
  expect(enr.status, JSON.stringify(enr.body)).toBe(200);
  const totp = await call(a.url, 'POST', '/v1/me/totp', { token: enr.body.access_token });
  const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(totp.body.secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate();
  const conf = await call(a.url, 'POST', '/v1/me/totp/confirm', { token: enr.body.access_token, body: { factor_id: totp.body.factor_id, code } });
  expect(conf.status, JSON.stringify(conf.body)).toBe(200);
  token = conf.body.access_token;
  adminId = (await call(a.url, 'GET', '/v1/me', { token })).body.principal_id;

  expect((await call(a.url, 'POST', '/v1/projects', { token, body: { id: 'p1', name: 'P1' } })).status).toBe(201);
  const ds = await call(a.url, 'POST', '/v1/datasets', { token, body: { id: 'd1', project_id: 'p1', owner_id: adminId, purposes: ['research'], columns: [{ name: 'outcome' }] } });
  expect(ds.status, JSON.stringify(ds.body)).toBe(201);
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all([...children].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('close', r)))));
  await admin?.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin?.end({ timeout: 5 });
  await rm(tmp, { recursive: true, force: true });
});

/** The administrator reading d1 for research, decided by the server at `url`. */
async function decision(url: string): Promise<{ effect: string; policy_version: string }> {
  const r = await call(url, 'POST', '/v1/decisions', { token, body: { principal_id: adminId, dataset: 'd1', purpose: 'research', columns: ['outcome'] } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

/** Milliseconds until `url` decides with a snapshot of `version`; fails past PROPAGATION_MS. */
async function timeUntil(url: string, version: number, effect: string): Promise<number> {
  const t0 = Date.now();
  let last: { effect: string; policy_version: string } | undefined;
  while (Date.now() - t0 <= PROPAGATION_MS) {
    last = await decision(url);
    if (last.policy_version.startsWith(`v${version}.`) && last.effect === effect) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${url} still decides ${JSON.stringify(last)} ${PROPAGATION_MS} ms after the change`);
}

const ADMIN_DEID_RULE = `  - id: sysadmin-deidentified-research
    effect: allow
    roles: [system-administrator]
    actions: [dataset:read]
    resource: { classification: [deidentified] }
    purposes: [research]
`;

describe('two server processes on one database', () => {
  it('a policy edited through A decides on B within one second (NOTIFY, no periodic reload)', async () => {
    expect(await decision(b.url)).toMatchObject({ effect: 'deny', policy_version: expect.stringMatching(/^v1\./) });
    const live = await call(a.url, 'GET', '/v1/policy', { token });
    const documents = { 'default.yaml': (live.body.documents['default.yaml'] as string).replace('rules:\n', `rules:\n${ADMIN_DEID_RULE}`) };
    const put = await call(a.url, 'PUT', '/v1/policy', { token, body: { documents, comment: 'administrators may check de-identified data' }, headers: { 'if-match': live.headers.get('etag')! } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.version).toBe(2);
    expect(await timeUntil(b.url, 2, 'allow')).toBeLessThanOrEqual(PROPAGATION_MS);
  });

  it('custos policy history, diff and rollback work against a server; B follows the rollback within a second', async () => {
    const env = { CUSTOS_TOKEN: token };
    const history = await cli(['policy', 'history', '--server', b.url], env);
    expect(history.code, history.out).toBe(0);
    expect(history.out).toMatch(/version 2 .*administrators may check de-identified data/);
    expect(history.out).toMatch(/version 1 .*\(seeded\)/);

    const diff = await cli(['policy', 'diff', '--server', a.url, '--from', '1', '--to', '2'], env);
    expect(diff.code, diff.out).toBe(0);
    expect(diff.out).toContain('+ rules: sysadmin-deidentified-research');
    expect(diff.out).toContain('+  - id: sysadmin-deidentified-research');

    const rb = await cli(['policy', 'rollback', '1', '--server', a.url, '-m', 'undo'], env);
    expect(rb.code, rb.out).toBe(0);
    expect(rb.out).toContain('rolled back: version 3');
    expect(await timeUntil(b.url, 3, 'deny')).toBeLessThanOrEqual(PROPAGATION_MS);
  }, 60_000);

  it('custos policy push refuses a folder whose tests fail and pushes one whose tests pass', async () => {
    const dir = path.join(tmp, 'policy');
    await cp(path.join(ROOT, 'policies'), dir, { recursive: true });
    const file = path.join(dir, 'rules', 'default.yaml');
    const shipped = await readFile(file, 'utf8');
    // Dropping the administrators' PHI deny breaks tests/role-table.yaml.
    await writeFile(file, shipped.replace(/ {2}- id: sysadmin-never-reads-phi[\s\S]*?(?=\n {2}- id: )/, ''));
    const local = await cli(['policy', 'test', '--dir', dir]);
    expect(local.code).toBe(1);
    expect(local.out).toContain('FAIL role-table.yaml › a system administrator never reads PHI');
    const refused = await cli(['policy', 'push', '--dir', dir, '--server', a.url], { CUSTOS_TOKEN: token });
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain('FAIL role-table.yaml › a system administrator never reads PHI');
    expect(refused.out).toContain('effect: expected "deny", got "allow"');

    await writeFile(file, shipped.replace('rules:\n', `rules:\n${ADMIN_DEID_RULE}`));
    const folderDiff = await cli(['policy', 'diff', path.join(ROOT, 'policies'), dir]);
    expect(folderDiff.out).toContain('+ rules: sysadmin-deidentified-research');
    const pushed = await cli(['policy', 'push', '--dir', dir, '--server', a.url, '-m', 'again'], { CUSTOS_TOKEN: token });
    expect(pushed.code, pushed.out).toBe(0);
    expect(pushed.out).toContain('pushed: version 4');
    expect(pushed.out).toContain('changed rules: sysadmin-deidentified-research');
    expect(await timeUntil(b.url, 4, 'allow')).toBeLessThanOrEqual(PROPAGATION_MS);

    const sim = await cli(['policy', 'simulate', '--server', b.url, '--dir', path.join(ROOT, 'policies')], { CUSTOS_TOKEN: token });
    expect(sim.code, sim.out).toBe(0);
    expect(sim.out).toMatch(/\d+ allow → deny/);
    expect(sim.out).toContain('sysadmin-deidentified-research');
  }, 90_000);
});
