/**
 * End to end through real processes: `node src/main.ts` and
 * `node bin/custos.js`, each against a fresh EMPTY database on the test
 * server, so first-start migration and bootstrap run exactly as in the field.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { readMigrations } from '../../src/db/migrate.ts';
import { freePort } from '../support/net.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = randomBytes(32).toString('base64');
const SECRET = /cen_[A-Za-z0-9_-]+/g;

let admin: Sql;
let dataDir: string;
const databases: string[] = [];
const children = new Set<ChildProcess>();

beforeAll(async () => {
  admin = createSql({ url: inject('pgAdminUrl'), max: 1 });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'custos-cli-'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const name of databases) await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end({ timeout: 5 });
  await rm(dataDir, { recursive: true, force: true });
});

/** A new database with nothing in it (not cloned from the migrated template). */
async function emptyDatabase(): Promise<string> {
  const name = `e_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  databases.push(name);
  return inject('pgAdminUrl').replace(/\/postgres$/, `/${name}`);
}


/** The parent's environment without any Custos setting that could leak in. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CUSTOS_') || k === 'DATABASE_URL' || k === 'HOST' || k === 'PORT') continue;
    env[k] = v;
  }
  // Keeps the default ./.custos of the working tree untouched.
  return { ...env, CUSTOS_DATA_DIR: dataDir, ...extra };
}

/** A spawned process with its output collected. */
interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal) once the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the exit, killing the process (and failing) if it takes longer than `ms`. */
async function exitWithin(p: Proc, ms: number, what: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`${what} did not exit within ${ms} ms\nstdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`));
    }, ms);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a CLI command to completion. */
async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = launch(['bin/custos.js', ...args], baseEnv(env));
  const { code } = await exitWithin(p, 15_000, `custos ${args.join(' ')}`);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Starts the server and waits until /readyz answers 200. */
async function startServer(databaseUrl: string): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = launch(['src/main.ts'], baseEnv({ DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: KEY, PORT: String(port), CUSTOS_LOG_LEVEL: 'info' }));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`server exited early (${proc.child.exitCode ?? proc.child.signalCode})\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`);
    }
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
    if (res) {
      const body: unknown = await res.json().catch(() => undefined);
      if (res.status === 200) {
        // No anchor file is configured here: the log stream is the one witness, and it takes anchors.
        expect(body).toMatchObject({ status: 'ready', anchors: 'ok', witnesses: [{ name: 'log', ok: true }] });
        return { proc, url };
      }
    }
    if (Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`server not ready within 15 s\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends SIGTERM and waits (at most 10 s) for the exit. */
async function terminate(proc: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  proc.child.kill('SIGTERM');
  return exitWithin(proc, 10_000, 'server after SIGTERM');
}

/** A clean stop: exit code 0 (not killed by the signal) and "stopped" as the last log line. */
function expectCleanStop(proc: Proc, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
  const messages = jsonLines(proc.stdout()).map((l) => l.msg);
  expect(messages, 'log lines of the server').toContain('shutting down: no new connections, finishing in-flight requests');
  expect(exit, `exit after SIGTERM; stdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`).toEqual({ code: 0, signal: null });
  // "stopped" follows "shutting down" (a request finishing during the drain may log around it).
  expect(messages.lastIndexOf('stopped')).toBeGreaterThan(messages.indexOf('shutting down: no new connections, finishing in-flight requests'));
}

/** The structured log lines of an output (lines starting with `{`), parsed. */
function jsonLines(out: string): { msg?: string; level?: string; [k: string]: unknown }[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; level?: string });
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

describe('the server process (npm start)', () => {
  let databaseUrl: string;
  let first: { proc: Proc; url: string } | undefined;
  let firstExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  beforeAll(async () => {
    databaseUrl = await emptyDatabase();
  });

  it('first start on an empty database: migrates, bootstraps, prints the secret once and never logs it', async () => {
    first = await startServer(databaseUrl);
    const out = first.proc.stdout();
    const secrets = out.match(SECRET) ?? [];
    expect(secrets).toHaveLength(1);
    const secret = secrets[0]!;
    expect(out).toContain('First administrator created: admin');
    // The audit root's public key, to pin in verifiers, printed and logged; the same as `custos audit root-key` gives.
    const root = /Audit root public key[^\n]*\n\n {4}([A-Za-z0-9_-]{43})\n {4}fingerprint sha256:([0-9a-f]{64})/.exec(out);
    expect(root, out).not.toBeNull();
    expect(jsonLines(out).find((l) => l.msg?.startsWith('audit root'))).toMatchObject({ root_public_key: root![1], root_fingerprint: root![2] });

    const logs = out.split('\n').filter((l) => l.startsWith('{'));
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) expect(line).not.toContain(secret);
    expect(first.proc.stderr()).not.toContain(secret);
    const parsed = jsonLines(out);
    expect(parsed.map((l) => l.msg)).toContain('migration applied');
    expect(parsed.map((l) => l.msg)).toContain('custos is listening');
    const shipped = await readMigrations();
    expect(parsed.find((l) => l.msg === 'database schema is current')).toMatchObject({ version: shipped[shipped.length - 1]!.version, applied: shipped.length });

    // The printed secret is the one stored (as its SHA-256 only).
    const db = createSql({ url: databaseUrl, max: 1 });
    try {
      const stored = await db`SELECT secret_hash FROM enrollments`;
      expect(stored).toHaveLength(1);
      expect(Buffer.from(stored[0]!.secret_hash as Uint8Array).equals(sha256(secret))).toBe(true);
    } finally {
      await db.end({ timeout: 5 });
    }
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);

    firstExit = await terminate(first.proc);
    // Shutting down prints no secret again.
    expect(first.proc.stdout().match(SECRET)).toHaveLength(1);
  });

  it('SIGTERM: exits with code 0 within 10 s and logs "stopped"', () => {
    expect(first && firstExit, 'the first start must have run').toBeTruthy();
    expectCleanStop(first!.proc, firstExit!);
  });

  it('second start on the same database: nothing to migrate, no new administrator or secret', async () => {
    expect(firstExit, 'the first start must have run').toBeTruthy();
    const second = await startServer(databaseUrl);
    const exit = await terminate(second.proc);
    const out = second.proc.stdout();
    expect(out).not.toMatch(SECRET);
    expect(out).not.toContain('First administrator');
    expect(jsonLines(out).find((l) => l.msg === 'database schema is current')).toMatchObject({ applied: 0 });
    const db = createSql({ url: databaseUrl, max: 1 });
    try {
      expect(await db`SELECT count(*)::int AS n FROM enrollments`).toEqual([{ n: 1 }]);
    } finally {
      await db.end({ timeout: 5 });
    }
    // A configured key: nothing was generated into the data folder.
    expect(await readdir(dataDir)).toEqual([]);
    // (How it stops is the previous test's subject; here it only has to go away.)
    expect(exit.code ?? exit.signal).not.toBeNull();
  });

  it('exits with code 2 and names the setting on a configuration error', async () => {
    const p = launch(['src/main.ts'], baseEnv({ HOST: '0.0.0.0', PORT: String(await freePort()) }));
    const { code } = await exitWithin(p, 10_000, 'server with a bad configuration');
    expect(code).toBe(2);
    expect(p.stderr()).toContain('CUSTOS_TLS_CERT_FILE');
    expect(p.stdout()).toBe('');
  });
});

describe('the custos CLI', () => {
  it('bootstrap --json creates the first administrator once', async () => {
    const env = { DATABASE_URL: await emptyDatabase(), CUSTOS_ENCRYPTION_KEY: KEY };

    const first = await cli(['bootstrap', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const r = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(r.username).toBe('admin');
    expect(r.enrollment_secret).toMatch(/^cen_[A-Za-z0-9_-]{43}$/);
    expect(typeof r.principal_id).toBe('string');
    expect(Number.isNaN(Date.parse(String(r.expires_at)))).toBe(false);
    // Logs go to stderr and never carry the secret.
    expect(first.stderr).not.toContain(String(r.enrollment_secret));

    const again = await cli(['bootstrap', '--json'], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/administrator already exists/i);
    expect(again.stdout).not.toMatch(SECRET);
  });

  it('migrate on an empty database applies the shipped migrations and prints the schema version', async () => {
    const env = { DATABASE_URL: await emptyDatabase(), CUSTOS_ENCRYPTION_KEY: KEY };
    const shipped = await readMigrations();
    const last = shipped[shipped.length - 1]!;

    const first = await cli(['migrate'], env);
    expect(first.code, first.stderr).toBe(0);
    for (const f of shipped) expect(first.stdout).toContain(`applied ${String(f.version).padStart(4, '0')}_${f.name}`);
    expect(first.stdout).toContain(`schema at version ${last.version} (${shipped.length} applied now)`);

    const again = await cli(['migrate'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(`schema at version ${last.version} (0 applied now)`);
  });
});
