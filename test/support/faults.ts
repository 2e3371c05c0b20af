/**
 * What the fault tests (test/faults) and the fault bench (bench/faults.ts)
 * share: a world with a training job (tokens) and an enforcement point
 * (decisions), a load generator that retries onto the other replicas as a
 * client behind a load balancer would, and the checks that matter after a
 * fault: every answer a client got a 2xx for has its decision record, every
 * token its record (by `decision_id` and `jti`, migration 0009), and the
 * figures of the outage (503s, how long, how soon each replica recovered).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { basicAuth } from './app.ts';
import type { TestDatabase } from './db.ts';
import { freePort } from './net.ts';
import { notesWorld, type NotesWorld } from './servers.ts';

/** A PostgreSQL of one's own (embedded, in a temporary folder), migrated, that can be stopped and started again. */
export interface DedicatedDatabase {
  /** Its `custos` database, shaped as a test database (superuser, application and admin clients). */
  db: TestDatabase;
  /** The server's processes' folder, to find them (CPU) and to start it again. */
  dir: string;
  /** Stops PostgreSQL (a fast shutdown: every session is terminated) and starts it again after `downMs`. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a PostgreSQL for faults that would disturb anyone else on a shared one (read-only, restart). */
export async function dedicatedDatabase(): Promise<DedicatedDatabase> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-faults-pg-'));
  const port = await freePort();
  let pg: EmbeddedPostgresHandle = await startEmbeddedPostgres({ dir, port });
  const admin = createSql({ url: pg.adminUrl, max: 1, applicationName: 'custos-test-admin' });
  await admin.unsafe('CREATE DATABASE custos');
  const url = pg.urlFor('custos');
  const sql = createSql({ url, max: 2, applicationName: 'custos-test-superuser' });
  await migrate(sql);
  const appSql = createSql({ url, max: 2, role: 'custos_app', applicationName: 'custos-test-app' });
  return {
    db: { url, name: 'custos', sql, appSql, admin, drop: async () => {} },
    dir,
    async restart(downMs) {
      await pg.stop();
      await sleep(downMs);
      pg = await startEmbeddedPostgres({ dir, port });
    },
    async stop() {
      await Promise.all([sql.end({ timeout: 1 }), appSql.end({ timeout: 1 }), admin.end({ timeout: 1 })]).catch(() => {});
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** {@link notesWorld} plus a training job with client credentials, and the two request bodies. */
export interface FaultWorld extends NotesWorld {
  /** The job's HTTP Basic header (client_secret_basic). */
  jobAuth: string;
  tokenBody: string;
  decisionBody: string;
}

/** Seeds the world the fault tests load: notes, a scientist, an enforcement point and a job sponsored by the scientist. */
export async function faultWorld(db: TestDatabase): Promise<FaultWorld> {
  const world = await notesWorld(db);
  const c = world.wired.catalog;
  const job = (await c.createPrincipal({ kind: 'service', name: 'train-job', sponsor_id: world.scientist, project_id: 'onc' })).id;
  await c.assignRole({ principal_id: job, role_id: 'data-scientist', project_id: 'onc' }, null);
  const cred = await createClientCredential(world.wired.catalogOps, { principalId: job, actorId: world.scientist, meta: { ip: undefined, requestId: undefined } });
  const detail = { type: 'dataset_access', dataset: 'notes', actions: ['read'], columns: ['note_text'], purpose: 'model-training' };
  return {
    ...world,
    jobAuth: basicAuth(cred.client_id, cred.client_secret!),
    tokenBody: new URLSearchParams({ grant_type: 'client_credentials', authorization_details: JSON.stringify([detail]), job_id: 'fault-job' }).toString(),
    decisionBody: JSON.stringify({ principal_id: world.scientist, dataset: 'notes', purpose: 'model-training', columns: ['note_text'] }),
  };
}

/** One HTTP attempt as the client saw it. */
export interface Attempt {
  /** A revocation (RFC 7009) is a transaction with its audit event on the server: the load has one after every third token. */
  kind: 'token' | 'decision' | 'revoke';
  replica: number;
  /** 0: no answer (connection refused or reset, or timed out). */
  status: number;
  /** The problem `code`, or the OAuth `error`, of a refusal. */
  code?: string;
  /** ms since the load started, when sent and when answered. */
  start: number;
  end: number;
  decisionId?: string;
  jti?: string;
  policyVersion?: string;
  effect?: string;
}

/** Options of {@link FaultLoad}. */
export interface FaultLoadOptions {
  /** Base URLs of the replicas, tried in turn. */
  replicas: string[];
  /** Requests in flight at once (each a client loop). */
  concurrency: number;
  world: Pick<FaultWorld, 'auth' | 'jobAuth' | 'tokenBody' | 'decisionBody'>;
  /** Pause before the next attempt after a 503 or no answer (ms). */
  backoffMs?: number;
  /** An attempt without an answer by then counts as none (ms). */
  timeoutMs?: number;
}

/**
 * Clients issuing tokens and decisions in turn (and revoking every third
 * token they get), each request sent to the next replica; after a 503 or no
 * answer it goes again to the next replica (after a short pause), until it
 * gets an answer that is not a 503.
 */
export class FaultLoad {
  readonly attempts: Attempt[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly agents: Agent[];
  private readonly t0 = performance.now();
  private turn = 0;
  private readonly o: FaultLoadOptions;

  constructor(o: FaultLoadOptions) {
    this.o = o;
    // A timeout of its own makes the agent honour the server's Keep-Alive hint (bench/soak/load.ts).
    this.agents = o.replicas.map(() => new Agent({ keepAlive: true, maxSockets: o.concurrency, timeout: 60_000 }));
  }

  /** ms since the load started (the clock of every Attempt). */
  now(): number {
    return performance.now() - this.t0;
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.o.concurrency }, (_, i) => this.loop(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const a of this.agents) a.destroy();
  }

  private async loop(i: number): Promise<void> {
    let n = i;
    let tokens = 0;
    let toRevoke: string | undefined;
    while (this.running) {
      const kind = toRevoke ? 'revoke' : n++ % 2 === 0 ? 'token' : 'decision';
      const token = toRevoke;
      toRevoke = undefined;
      let replica = this.turn++ % this.o.replicas.length;
      for (;;) {
        const { attempt, accessToken } = await this.send(kind, replica, token);
        this.attempts.push(attempt);
        if (attempt.status !== 0 && attempt.status !== 503) {
          if (accessToken && ++tokens % 3 === 0) toRevoke = accessToken;
          break;
        }
        if (!this.running) return;
        replica = (replica + 1) % this.o.replicas.length;
        await new Promise((r) => setTimeout(r, this.o.backoffMs ?? 20));
      }
    }
  }

  private send(kind: Attempt['kind'], replica: number, token?: string): Promise<{ attempt: Attempt; accessToken?: string }> {
    const w = this.o.world;
    const form = { authorization: w.jobAuth, 'content-type': 'application/x-www-form-urlencoded' };
    const [path, headers, body] =
      kind === 'token'
        ? ['/oauth2/token', form, w.tokenBody]
        : kind === 'revoke'
          ? ['/oauth2/revoke', form, new URLSearchParams({ token: token! }).toString()]
          : ['/v1/decisions', { authorization: w.auth, 'content-type': 'application/json' }, w.decisionBody];
    const start = this.now();
    return new Promise((resolve) => {
      let done = false;
      const finish = (status: number, text: string) => {
        if (done) return;
        done = true;
        resolve(parseAttempt({ kind, replica, status, start, end: this.now() }, text));
      };
      const req = request(`${this.o.replicas[replica]}${path}`, { method: 'POST', agent: this.agents[replica], headers, timeout: this.o.timeoutMs ?? 10_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => finish(res.statusCode!, text));
        res.on('error', () => finish(0, ''));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => finish(0, ''));
      req.end(body);
    });
  }
}

function parseAttempt(a: Attempt, text: string): { attempt: Attempt; accessToken?: string } {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { attempt: a };
  }
  if (a.status !== 200) {
    const code = body.code ?? body.error;
    return { attempt: typeof code === 'string' ? { ...a, code } : a };
  }
  if (a.kind === 'token') {
    const accessToken = String(body.access_token);
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string; decision_id: string };
    return { attempt: { ...a, decisionId: claims.decision_id, jti: claims.jti }, accessToken };
  }
  if (a.kind === 'revoke') return { attempt: a };
  return { attempt: { ...a, decisionId: body.decision_id as string, policyVersion: body.policy_version as string, effect: body.effect as string } };
}

/** What the log holds for what clients were given. */
export interface RecordCheck {
  /** 2xx answers (tokens and decisions) whose decision record is not in decision_log. */
  lost_records: number;
  /** Tokens with no record naming both their decision id and their jti. */
  tokens_without_record: number;
  tokens_issued: number;
  decisions_answered: number;
}

/** Looks up every 2xx answer's record in decision_log (`sql`: a client that may read it). */
export async function checkRecords(sql: Sql, attempts: readonly Attempt[]): Promise<RecordCheck> {
  const ok = attempts.filter((a) => a.status === 200 && a.kind !== 'revoke');
  const ids = ok.map((a) => a.decisionId!);
  const rows = ids.length ? await sql<{ id: string; token_jti: string | null }[]>`SELECT id::text AS id, token_jti FROM decision_log WHERE id = ANY(${ids}::uuid[])` : [];
  const jtiOf = new Map(rows.map((r) => [r.id, r.token_jti]));
  const tokens = ok.filter((a) => a.kind === 'token');
  return {
    lost_records: ok.filter((a) => !jtiOf.has(a.decisionId!)).length,
    tokens_without_record: tokens.filter((a) => jtiOf.get(a.decisionId!) !== a.jti).length,
    tokens_issued: tokens.length,
    decisions_answered: ok.length - tokens.length,
  };
}

/** The outage a fault caused, seen by the clients, between `from` (fault begins) and `to` (end of observation). */
export interface Outage {
  /** Attempts answered 503 (with `unavailable`, `audit_unavailable` or `temporarily_unavailable`). */
  count_503: number;
  /** Attempts without an answer (refused, reset, timed out). */
  no_answer: number;
  /** Any other failure (a 500, a 503 with another code...): must be 0. */
  unexpected: number;
  /** From the first failed attempt's answer to the last one's (ms). */
  outage_ms: number;
  /** The longest time no client got a 2xx, from `from` to the last answer (ms): the outage as the clients lived it. */
  longest_gap_ms: number;
  /** Requests answered 2xx during the window (clients retried onto whatever answered). */
  ok: number;
}

/** The codes a 503 may carry: the service's own, or the token endpoint's (RFC 6749 §5.2). */
export const UNAVAILABLE_CODES = ['unavailable', 'audit_unavailable', 'temporarily_unavailable'];

/** Sums the attempts started in [from, to). `expected(a)`: a non-2xx answer the scenario causes on purpose (a deny after a policy change). */
export function outage(attempts: readonly Attempt[], from: number, to: number, expected: (a: Attempt) => boolean = () => false): Outage {
  const w = attempts.filter((a) => a.start >= from && a.start < to);
  const failed = w.filter((a) => a.status !== 200 && !expected(a));
  const s503 = failed.filter((a) => a.status === 503 && UNAVAILABLE_CODES.includes(a.code ?? ''));
  const none = failed.filter((a) => a.status === 0);
  const ends = failed.map((a) => a.end);
  const okEnds = attempts.filter((a) => a.status === 200 && a.end >= from && a.end < to).map((a) => a.end).sort((x, y) => x - y);
  let gap = 0;
  let prev = from;
  for (const e of okEnds) {
    gap = Math.max(gap, e - prev);
    prev = e;
  }
  gap = Math.max(gap, Math.min(to, Math.max(from, ...w.map((a) => a.end))) - prev);
  return {
    count_503: s503.length,
    no_answer: none.length,
    unexpected: failed.length - s503.length - none.length,
    outage_ms: ends.length ? Math.round(Math.max(...ends) - Math.min(...ends)) : 0,
    longest_gap_ms: Math.round(gap),
    ok: w.filter((a) => a.status === 200).length,
  };
}

/**
 * For each replica, ms from `at` until it answered 2xx again to a request
 * sent after `at` (undefined: it never did).
 */
export function recoveryMs(attempts: readonly Attempt[], replicas: number, at: number): (number | undefined)[] {
  return Array.from({ length: replicas }, (_, r) => {
    const first = attempts.filter((a) => a.replica === r && a.status === 200 && a.start >= at).sort((x, y) => x.end - y.end)[0];
    return first && Math.round(first.end - at);
  });
}

/** Samples of failures that were not expected, for an assertion's message. */
export function unexpectedSamples(attempts: readonly Attempt[], from = 0, to = Infinity): string {
  return JSON.stringify(attempts.filter((a) => a.start >= from && a.start < to && a.status !== 200 && a.status !== 0 && !(a.status === 503 && UNAVAILABLE_CODES.includes(a.code ?? ''))).slice(0, 5));
}

/** Sets PostgreSQL read-only for every new transaction (what a fenced or demoted primary does), or back. */
export async function setReadOnly(admin: Sql, on: boolean): Promise<void> {
  await admin.unsafe(on ? 'ALTER SYSTEM SET default_transaction_read_only = on' : 'ALTER SYSTEM RESET default_transaction_read_only');
  // Each session takes it at its next idle moment.
  await admin`SELECT pg_reload_conf()`;
}

/** Resolves once `f` gives something truthy; throws after `ms`. */
export async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Terminates every connection of the Custos servers on database `name` (not the tests' own): what a failover or an operator does. */
export async function terminateCustosConnections(admin: Sql, name: string): Promise<number> {
  const [r] = await admin`
    SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
    WHERE datname = ${name} AND pid <> pg_backend_pid() AND application_name LIKE 'custos%' AND application_name NOT LIKE 'custos-test%'`;
  return r!.n as number;
}
