/**
 * The real server (`node src/main.ts`, as the image runs it) as a child of a
 * benchmark, on a database the benchmark prepared: a clean environment (no
 * CUSTOS_* of the caller's), the log at `info` as shipped (one access line
 * per request, read and dropped here, so a full pipe never backs up into the
 * server's memory), and only the last 64 KB of output kept, for a long run.
 * Warnings and errors are counted and the last few kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { copyServerOutput, serverNodeFlags, withChildren } from './harness.ts';
import { freePort } from '../test/support/net.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TAIL = 64 * 1024;

/** A running `node src/main.ts`. */
export interface CustosProcess {
  url: string;
  child: ChildProcess;
  /** The primary and its workers (one process with CUSTOS_WORKERS=1). */
  pids(): number[];
  /** The last 64 KB it printed. */
  tail(): string;
  /** Log lines at warn or above (pino levels 40, 50, 60), and the last 20 of them. */
  warnings(): { count: number; last: string[] };
  /** SIGTERM, then waits for it to exit (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

/**
 * Starts the server on `databaseUrl` with the encryption key the database
 * was seeded with, and waits until every worker listens.
 */
export async function startCustos(o: { databaseUrl: string; key: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CustosProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_') && k !== 'DATABASE_URL' && k !== 'PORT') env[k] = v;
  Object.assign(env, { DATABASE_URL: o.databaseUrl, CUSTOS_ENCRYPTION_KEY: o.key, CUSTOS_AUTO_BOOTSTRAP: 'false', CUSTOS_LOG_LEVEL: 'info', ...o.env, PORT: String(port) });
  const child = spawn(process.execPath, [...serverNodeFlags(), 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  copyServerOutput(child);
  let tail = '';
  let partial = '';
  let count = 0;
  const last: string[] = [];
  let ready = false;
  const onData = (d: string) => {
    tail = (tail + d).slice(-TAIL);
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      // One worker prints "custos is listening"; a cluster's primary says when all of them are.
      if (!ready && (line.includes('all workers are listening') || (line.includes('custos is listening') && !line.includes('"worker":')))) ready = true;
      if (/"level":(40|50|60)\b/.test(line) || (!line.startsWith('{') && line.trim())) {
        count++;
        last.push(line.slice(0, 2000));
        if (last.length > 20) last.shift();
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  while (!ready) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not start:\n${tail.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    pids: () => (child.exitCode === null && child.signalCode === null ? withChildren(child.pid!) : []),
    tail: () => tail,
    warnings: () => ({ count, last: [...last] }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
