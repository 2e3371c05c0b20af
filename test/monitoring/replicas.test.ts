/**
 * Exactly once with several replicas: two real server processes
 * (`node src/main.ts`) on one database, each running the detection loop.
 * A pattern spread over both raises one alert with exactly its records as
 * evidence; the consumer's connection killed mid-run (its process stalled,
 * so it cannot simply lock again) hands detection to the other process, and
 * the grouped alert ends with every occurrence and every record once: no
 * duplicate, no loss.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MONITORING_FILE } from '../../src/monitoring/policy.ts';
import { MONITOR_LOCK_KEY } from '../../src/monitoring/postgres/consumerLock.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { notesWorld, sendOnce, startServer, type ServerProcess } from '../support/servers.ts';
const THRESHOLD = 4;

type Replica = ServerProcess;

let db: TestDatabase;
const replicas: Replica[] = [];
let auth: string;
let scientist: string;
let job: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const world = await notesWorld(db);
  ({ scientist, auth } = world);
  const c = world.wired.catalog;
  job = (await c.createPrincipal({ kind: 'service', name: 'train-job', sponsor_id: scientist, project_id: 'onc' })).id;
  await c.assignRole({ principal_id: job, role_id: 'data-scientist', project_id: 'onc' }, null);

  const dir = mkdtempSync(path.join(tmpdir(), 'custos-replicas-'));
  const policyFile = path.join(dir, 'monitoring.yaml');
  // Bursts of 4 in 10 minutes: the whole test stays inside one window.
  writeFileSync(policyFile, readFileSync(DEFAULT_MONITORING_FILE, 'utf8').replace('threshold: 20, window_seconds: 60', `threshold: ${THRESHOLD}, window_seconds: 600`));
  const env = { CUSTOS_WORKERS: '1', CUSTOS_MONITORING_FILE: policyFile, CUSTOS_MONITORING_POLL_MS: '50' };
  for (let i = 0; i < 2; i++) replicas.push(await startServer(db, { env, ready: 'custos is listening' }));
}, 90_000);

afterAll(async () => {
  for (const r of replicas) r.kill();
  await db?.drop();
});

/** One decision through replica `i`. */
async function decide(i: number, principal: string, columns: string[]): Promise<{ status: number; body: any }> {
  const body = JSON.stringify({ principal_id: principal, dataset: 'notes', purpose: 'model-training', columns });
  const r = await sendOnce(`${replicas[i]!.url}/v1/decisions`, 'POST', { authorization: auth, 'content-type': 'application/json' }, body);
  return { status: r.status, body: JSON.parse(r.text) };
}

/** The backend holding the consumer lock, and the replica whose log says it became the consumer last. */
async function lockHolder(): Promise<number | undefined> {
  const key = BigInt(MONITOR_LOCK_KEY);
  const [r] = await db.sql`
    SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid = ${Number(key >> 32n)}::bigint::oid AND objid = ${Number(key & 0xffffffffn)}::bigint::oid`;
  return r?.pid as number | undefined;
}

const consumerLines = (r: Replica) => (r.out().match(/"msg":"monitoring: this replica is now the consumer"/g) ?? []).length;

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const alertOf = async (key: string) => (await db.sql`SELECT id, occurrences FROM alerts WHERE dedupe_key = ${key}`)[0] as { id: string; occurrences: number } | undefined;
const evidence = async (id: string) => (await db.sql`SELECT record_id FROM alert_evidence WHERE alert_id = ${id}`).map((r) => r.record_id as string).sort();

describe('two server processes on one database', () => {
  const denies: string[] = [];

  it('exactly one consumes', async () => {
    await until('a consumer', () => replicas.some((r) => consumerLines(r) === 1) || undefined);
    expect(replicas.map(consumerLines).sort()).toEqual([0, 1]);
    expect(await lockHolder()).toBeTypeOf('number');
  });

  it('a pattern spread over both raises one alert, with exactly its records', async () => {
    for (let i = 0; i < THRESHOLD; i++) {
      const r = await decide(i % 2, scientist, ['mrn']);
      expect(r.body.effect).toBe('deny');
      denies.push(r.body.decision_id);
    }
    const a = await until('the burst alert', () => alertOf(`deny_burst:principal:${scientist}`));
    expect(a.occurrences).toBe(1);
    expect(await evidence(a.id)).toEqual([...denies].sort());
    // The job's first access, asked of both replicas at once: one alert.
    const both = await Promise.all([decide(0, job, ['note_text']), decide(1, job, ['note_text'])]);
    expect(both.map((b) => b.body.effect)).toEqual(['allow', 'allow']);
    const first = await until('the first-access alert', () => alertOf(`first_access:${job}:notes`));
    await new Promise((r) => setTimeout(r, 300));
    expect((await alertOf(`first_access:${job}:notes`))!.occurrences).toBe(1);
    expect(await evidence(first.id)).toHaveLength(1);
    expect(await db.sql`SELECT 1 FROM alerts WHERE detector = 'first_access'`).toHaveLength(1);
  });

  it('the consumer connection killed mid-run: the other process takes over, without duplicates or losses', async () => {
    const consumer = replicas.find((r) => consumerLines(r) === 1)!;
    const other = replicas.find((r) => r !== consumer)!;
    const oldPid = (await lockHolder())!;
    // Denies keep flowing through both replicas while the consumer goes.
    let flowing = true;
    // While the consumer is stalled it answers nothing: the flow goes to the other one then.
    let live = [0, 1];
    const flow = (async () => {
      for (let i = 0; flowing; i++) {
        const r = await decide(live[i % live.length]!, scientist, ['mrn']);
        if (r.status === 200) denies.push(r.body.decision_id);
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    await until('a few more denies', () => denies.length >= 3 * THRESHOLD || undefined);
    // The consumer stalls (so it cannot simply lock again on a new connection), and its connection is killed.
    live = [replicas.indexOf(other)];
    // Let a request in flight to the consumer finish first.
    await new Promise((r) => setTimeout(r, 50));
    consumer.child.kill('SIGSTOP');
    await db.sql`SELECT pg_terminate_backend(${oldPid})`;
    await until('the other replica to take over', () => consumerLines(other) === 1 || undefined);
    const newPid = await until('a new lock holder', async () => {
      const p = await lockHolder();
      return p !== undefined && p !== oldPid ? p : undefined;
    });
    expect(newPid).not.toBe(oldPid);
    await until('more denies after the takeover', () => denies.length >= 6 * THRESHOLD || undefined);
    consumer.child.kill('SIGCONT');
    live = [0, 1];
    await until('denies through both again', () => denies.length >= 8 * THRESHOLD || undefined);
    flowing = false;
    await flow;
    // Round the pattern up to whole bursts, through the replica that resumed.
    while (denies.length % THRESHOLD) {
      const r = await decide(replicas.indexOf(consumer), scientist, ['mrn']);
      expect(r.body.effect).toBe('deny');
      denies.push(r.body.decision_id);
    }
    const bursts = denies.length / THRESHOLD;
    const a = await until('every occurrence', async () => {
      const x = await alertOf(`deny_burst:principal:${scientist}`);
      return x && x.occurrences >= bursts ? x : undefined;
    }).catch(async (err: Error) => {
      // What each process said about detection, for the failure report.
      const said = (r: Replica) => r.out().split('\n').filter((l) => l.includes('monitoring')).join('\n');
      const x = await alertOf(`deny_burst:principal:${scientist}`);
      const cursors = await db.sql`SELECT m.chain_id, m.seq::int, c.head_seq::int FROM audit_chains c LEFT JOIN monitoring_cursors m ON m.chain_id = c.id`;
      throw new Error(`${err.message}: ${x?.occurrences} of ${bursts}; cursors ${JSON.stringify(cursors)}\nconsumer:\n${said(consumer)}\nother:\n${said(other)}`);
    });
    // Nothing late, nothing twice.
    await new Promise((r) => setTimeout(r, 500));
    expect((await alertOf(`deny_burst:principal:${scientist}`))!.occurrences).toBe(bursts);
    expect(await evidence(a.id)).toEqual([...denies].sort());
    expect(await db.sql`SELECT 1 FROM alerts WHERE dedupe_key = ${`deny_burst:principal:${scientist}`}`).toHaveLength(1);
    // The resumed process found the lock taken and stands by.
    expect(consumerLines(consumer)).toBe(1);
    expect(await lockHolder()).toBe(newPid);
  }, 60_000);
});
