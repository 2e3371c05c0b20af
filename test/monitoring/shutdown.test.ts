/**
 * SIGTERM with an alert stream open, through the real server process
 * (`node src/main.ts`): the stream is told (`event: end`, "server
 * stopping") and ended, so the process drains and exits 0 well before the
 * shutdown grace period would cut connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personDirect, startTestApp, TEST_KEY, type Person, type TestApp } from '../support/app.ts';
import { freePort } from '../support/net.ts';
import { openStream } from './alerts.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let app: TestApp;
let reviewer: Person;
let child: ChildProcess | undefined;
let dataDir: string;
let out = '';

beforeAll(async () => {
  app = await startTestApp();
  // The server process runs on the real clock: sessions are made at the real time.
  app.clock.set(Date.now());
  reviewer = await personDirect(app, 'rev-shutdown', [{ role: 'security-reviewer' }]);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'custos-alert-stop-'));
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await app?.wired.alertFeed.close();
  await app?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('server stop', () => {
  it('ends open alert streams cleanly, and the process exits 0 without waiting for the grace period', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_') && k !== 'DATABASE_URL' && k !== 'PORT' && k !== 'HOST') env[k] = v;
    child = spawn(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: {
        ...env,
        DATABASE_URL: app.db.url,
        CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'),
        CUSTOS_DATA_DIR: dataDir,
        CUSTOS_WORKERS: '1',
        PORT: String(port),
        // Long: a process that only exits once connections are cut would take this long.
        CUSTOS_SHUTDOWN_GRACE_SECONDS: '60',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child!.on('close', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited early:\n${out}`);
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (res?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`server not ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const s = await openStream(url, reviewer.token);
    expect(s.status, out).toBe(200);
    await expect.poll(() => s.comments).toContain('connected');
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect((await s.next((e) => e.event === 'end', 10_000)).data).toEqual({ reason: 'server stopping' });
    expect(await s.ended(5000)).toBe(true);
    const code = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 15_000))]);
    expect(code, out).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
  }, 60_000);
});
