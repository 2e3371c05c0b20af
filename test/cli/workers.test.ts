/**
 * `node src/main.ts` with two workers (node cluster) on one port: both
 * answer, each from its own facts in memory and into its own decision log
 * chain; a fact change reaches both through their own listeners; a worker
 * killed with SIGKILL is replaced; SIGTERM drains both, and every decision
 * answered has its record.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVING_V8_FLAGS } from '../../src/heapSettings.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { notesWorld, sendOnce, startServer, type ServerProcess } from '../support/servers.ts';

describe('two workers on one port', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let auth: string;
  let scientist: string;
  let answered = 0;
  const out = () => server.out();

  beforeAll(async () => {
    db = await createTestDatabase();
    // The world, written straight through the stores: a project, a PHI dataset, a scientist, an enforcement point.
    ({ scientist, auth } = await notesWorld(db));
    server = await startServer(db, { env: { CUSTOS_WORKERS: '2' }, ready: 'all workers are listening' });
  });

  afterAll(async () => {
    server?.kill();
    await db?.drop();
  });

  /** One decision on a new connection (the cluster hands connections out in turn). */
  async function decide(): Promise<{ status: number; effect?: string }> {
    const body = JSON.stringify({ principal_id: scientist, dataset: 'notes', purpose: 'model-training', columns: ['note_text'] });
    const r = await sendOnce(`${server.url}/v1/decisions`, 'POST', { authorization: auth, 'content-type': 'application/json' }, body);
    if (r.status === 200) answered++;
    return { status: r.status, effect: r.status === 200 ? (JSON.parse(r.text) as { effect: string }).effect : undefined };
  }

  /** The pids of the workers that said they are listening, in order. */
  const listeningPids = () =>
    out()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; pid: number })
      .filter((l) => l.msg === 'custos is listening')
      .map((l) => l.pid);

  const chains = async () => (await db.sql`SELECT count(DISTINCT chain_id)::int AS n FROM decision_log`)[0]!.n as number;

  it('answers on both workers, each with its facts in memory and its own log chain', async () => {
    const lines = out().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; worker?: number; principals?: number });
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

  it('starts its workers with the serving heap settings on their command line', async () => {
    const pids = listeningPids();
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([...SERVING_V8_FLAGS]));
  });

  it('replaces a worker killed with SIGKILL, and keeps answering', async () => {
    const pids = listeningPids();
    expect(pids).toHaveLength(2);
    process.kill(pids[0]!, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    while ((out().match(/"msg":"custos is listening"/g) ?? []).length < 3) {
      if (Date.now() > deadline) throw new Error(`no replacement:\n${out()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(out()).toContain('a worker exited; starting another');
    for (let i = 0; i < 4; i++) expect((await decide()).status).toBe(200);
  });

  it('SIGTERM drains every worker and the primary exits 0, with a record for every answer', async () => {
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const msgs = out().split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs.filter((m) => m === 'worker stopped')).toHaveLength(2);
    expect(msgs[msgs.length - 1]).toBe('stopped');
    const [{ n }] = (await db.sql`SELECT count(*)::int AS n FROM decision_log`) as unknown as [{ n: number }];
    expect(n).toBe(answered);
  });
});
