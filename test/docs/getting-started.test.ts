/**
 * The documentation's shell examples, executed. The server is started as
 * `npm start` starts it (`node src/main.ts`) on a fresh, empty
 * database; then the README's tour and docs/getting-started.md run block by
 * block with bash, in the order they are written, from the checkout (the
 * helpers import otplib from node_modules). Shell variables carry from one
 * block to the next, as in the reader's terminal. Each block must exit 0 and
 * print every output line the document shows (`# …` lines under a command;
 * `…` stands for anything). The only edits are what a reader copies from
 * their own screen: the server's address and the enrollment secret it printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { freePort } from '../support/net.ts';
import { runBash, statefulScript, type ShellResult } from './runShell.ts';
import { expectedOutputs, shellBlocks } from './shellBlocks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The secret the documents show as printed at first start; a reader pastes their own. */
const SHOWN_SECRET = 'cen_q1RUENQLwlaaGsX1bDgP1oo3YzVmTaWnjQlNc0-VKo8';
const SHOWN_ADDRESS = /(localhost|127\.0\.0\.1):8080/g;

let admin: Sql;
let work: string;
let dbName: string;
let server: ChildProcess | undefined;
let serverOut = '';
let port: number;
let serverConfig: Record<string, string> = {};

/** The parent's environment without any Custos setting that could leak in. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CUSTOS_') || k === 'DATABASE_URL' || k === 'HOST' || k === 'PORT') continue;
    env[k] = v;
  }
  // The node that runs the tests first on PATH, for `node -e` in the examples.
  return { ...env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`, CUSTOS_DATA_DIR: path.join(work, 'data'), ...extra };
}

beforeAll(async () => {
  admin = createSql({ url: inject('pgAdminUrl'), max: 1 });
  work = await mkdtemp(path.join(os.tmpdir(), 'custos-docs-'));
  dbName = `d_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`CREATE DATABASE ${dbName}`);
  const databaseUrl = inject('pgAdminUrl').replace(/\/postgres$/, `/${dbName}`);
  port = await freePort();
  // The reader's `npm run custos` commands see the server's configuration (with the embedded database, the same checkout does).
  serverConfig = { DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  server = spawn(process.execPath, ['src/main.ts'], {
    cwd: ROOT,
    env: baseEnv({ ...serverConfig, PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
  server.stderr!.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`server exited early:\n${serverOut}`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
    if (res?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`server not ready within 30 s:\n${serverOut}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The shell's own variables, so only what the examples set is carried over.
  const base = await bash('compgen -v', {});
  await writeFile(path.join(work, 'baseline'), base.stdout);
  await writeFile(path.join(work, 'state.sh'), '');
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('close', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end({ timeout: 5 });
  await rm(work, { recursive: true, force: true });
});

/** Runs a bash script from the checkout and collects its output. */
function bash(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<ShellResult> {
  return runBash(script, { cwd: ROOT, env: baseEnv({ ...serverConfig, ...env }), timeoutMs });
}

/**
 * Runs one block in a shell that first restores the variables and functions
 * the earlier blocks left, with `set -eo pipefail`, then saves them again.
 */
function runBlock(block: string): Promise<ShellResult> {
  return bash(statefulScript(block, work), {});
}

/** What a reader types: the document's block with their server's address and secret. */
function asTyped(block: string): string {
  const secret = /cen_[A-Za-z0-9_-]{43}/.exec(serverOut)?.[0];
  if (!secret) throw new Error(`no enrollment secret printed:\n${serverOut}`);
  return block.replace(SHOWN_ADDRESS, `127.0.0.1:${port}`).replaceAll(SHOWN_SECRET, secret);
}

/** Runs a document's `sh` blocks in order, asserting each block's exit status and shown output. */
async function runDocument(file: string): Promise<void> {
  const blocks = shellBlocks(await readFile(path.join(ROOT, file), 'utf8'));
  expect(blocks.length, `sh blocks in ${file}`).toBeGreaterThan(0);
  for (const [i, block] of blocks.entries()) {
    const typed = asTyped(block.text);
    const r = await runBlock(typed);
    const where = `${file}, block ${i + 1} (line ${block.line}):\n${block.text}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
    expect(r.code, `exit status of ${where}`).toBe(0);
    let from = 0;
    for (const shown of expectedOutputs(typed)) {
      const m = shown.pattern.exec(r.stdout.slice(from));
      expect(m, `output "${shown.line}" not printed (in order) by ${where}`).not.toBeNull();
      from += m!.index + m![0].length;
    }
  }
}

describe('the documentation, executed against a fresh server', () => {
  it('the first start prints what the documents show', () => {
    expect(serverOut).toContain('  First administrator created: admin\n  One-time enrollment secret (shown only now, expires ');
  });

  it('README.md: the five-minute tour', async () => {
    await runDocument('README.md');
  }, 60_000);

  it('docs/getting-started.md: from the enrollment secret to a decision and a token request', async () => {
    await runDocument('docs/getting-started.md');
  }, 120_000);
});
