/**
 * Real Custos servers for tests that need processes (`node src/main.ts`):
 * several workers behind one port, several replicas on one database. The
 * world they serve is written straight through the stores first: a project,
 * a PHI dataset, a scientist and an enforcement point with client
 * credentials.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { loadDefaultRoles } from '../../src/policy/loadDefaultRoles.ts';
import { wire, type Wired } from '../../src/wire.ts';
import { basicAuth, TEST_KEY } from './app.ts';
import type { TestDatabase } from './db.ts';
import { freePort } from './net.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The world of {@link notesWorld}. */
export interface NotesWorld {
  wired: Wired;
  /** A data scientist of project `onc`, owner of dataset `notes`. */
  scientist: string;
  /** `notes-server`, an enforcement point sponsored by the scientist. */
  pep: string;
  /** The enforcement point's HTTP Basic header. */
  auth: string;
}

/** Project `onc`, dataset `notes` (`note_text`, and `mrn` an identifier), a scientist, an enforcement point with credentials. */
export async function notesWorld(db: TestDatabase): Promise<NotesWorld> {
  const config = loadConfig({ DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_LOG_LEVEL: 'silent' });
  const wired = wire({ config, sql: db.appSql, log: createLogger({ level: 'silent' }), encryptionKey: TEST_KEY });
  await loadDefaultRoles(wired.catalog);
  const c = wired.catalog;
  await c.createProject({ id: 'onc', name: 'Oncology' });
  const scientist = (await c.createPrincipal({ kind: 'user', name: 'sci' })).id;
  await c.assignRole({ principal_id: scientist, role_id: 'data-scientist', project_id: 'onc' }, null);
  await c.createDataset({ id: 'notes', project_id: 'onc', owner_id: scientist, purposes: ['model-training'], columns: [{ name: 'note_text', type: 'string' }, { name: 'mrn', type: 'string', category: 'mrn' }] });
  const pep = (await c.createPrincipal({ kind: 'service', name: 'notes-server', sponsor_id: scientist, project_id: 'onc' })).id;
  await c.assignRole({ principal_id: pep, role_id: 'enforcement-point', project_id: null }, null);
  const cred = await createClientCredential(wired.catalogOps, { principalId: pep, actorId: scientist, meta: { ip: undefined, requestId: undefined } });
  return { wired, scientist, pep, auth: basicAuth(cred.client_id, cred.client_secret!) };
}

/** A running `node src/main.ts`. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything it printed so far (standard output and error). */
  out(): string;
  /** Resolves when it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL unless it has exited (resumed first, should it be stopped). */
  kill(): void;
}

/**
 * Starts `node src/main.ts` on a free port, on `db`, with `env` added to a
 * clean environment (no CUSTOS_* of the caller's), and waits until it prints
 * `ready` (e.g. "custos is listening", "all workers are listening").
 */
export async function startServer(db: TestDatabase, o: { env?: Record<string, string>; ready: string; timeoutMs?: number }): Promise<ServerProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CUSTOS_') && k !== 'DATABASE_URL' && k !== 'PORT') env[k] = v;
  Object.assign(env, { DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_AUTO_BOOTSTRAP: 'false', CUSTOS_LOG_LEVEL: 'info', ...o.env, PORT: String(port) });
  const child = spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const server: ServerProcess = {
    child,
    url: `http://127.0.0.1:${port}`,
    out: () => out,
    exited,
    kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    },
  };
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  while (!out.includes(o.ready)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      server.kill();
      throw new Error(`not ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return server;
}

/** One request on a new connection (a cluster hands connections out in turn, so each may reach another worker). */
export function sendOnce(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
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
