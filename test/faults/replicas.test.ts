/**
 * Faults at load, with three real replicas (`node src/main.ts`) on one
 * database and clients issuing tokens and decisions, retrying onto the next
 * replica after a 503 or no answer:
 * - every Custos connection terminated by the server (pg_terminate_backend):
 *   503s at most, the processes live on and recover by themselves;
 * - a policy change under load: every replica decides with it within 1 s;
 * - kill -9 of one replica: the clients go on with the other two.
 * After each, every token and every decision a client got a 2xx for has its
 * decision record (a token by its decision id and jti).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { checkRecords, faultWorld, FaultLoad, outage, recoveryMs, sleep, terminateCustosConnections, unexpectedSamples, type FaultWorld } from '../support/faults.ts';
import { startServer, type ServerProcess } from '../support/servers.ts';

const PROPAGATION_MS = 1_000;

let db: TestDatabase;
let world: FaultWorld;
const replicas: ServerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  world = await faultWorld(db);
  // One process each (no cluster), the periodic policy reload out of the way: only NOTIFY carries a change.
  const env = { CUSTOS_WORKERS: '1', CUSTOS_POLICY_RELOAD_SECONDS: '3600', CUSTOS_DB_POOL_MAX: '4' };
  replicas.push(...(await Promise.all([0, 1, 2].map(() => startServer(db, { env, ready: 'custos is listening', timeoutMs: 45_000 })))));
}, 90_000);

afterAll(async () => {
  for (const r of replicas) r.kill();
  await Promise.all(replicas.map((r) => r.exited));
  await db?.drop();
});

function load(): FaultLoad {
  return new FaultLoad({ replicas: replicas.map((r) => r.url), concurrency: 8, world });
}

/** A replica that died, or printed a crash, fails the test with what it printed. */
function expectAlive(r: ServerProcess): void {
  expect(r.child.exitCode, r.out().slice(-2000)).toBeNull();
  expect(r.out()).not.toMatch(/uncaught|TypeError|unhandled/i);
}

describe('faults at load, three replicas', () => {
  it('every Custos connection terminated: 503s at most, no crash, recovery without a restart, nothing lost', async () => {
    const l = load();
    l.start();
    await sleep(1000);
    const from = l.now();
    // Three rounds, a moment apart: connections killed idle, in a group commit, inside transactions, while reconnecting.
    let killed = 0;
    for (let i = 0; i < 3; i++) {
      killed += await terminateCustosConnections(db.admin, db.name);
      await sleep(250);
    }
    const after = l.now();
    // Longer than the pools' connect timeout (5 s): a connection that cannot come back would show here.
    await sleep(6000);
    await l.stop();
    expect(killed).toBeGreaterThanOrEqual(3);
    replicas.forEach(expectAlive);
    const o = outage(l.attempts, from, Infinity);
    expect(o.unexpected, unexpectedSamples(l.attempts, from)).toBe(0);
    // The replicas were never away: every failure is a 503, none a dropped connection.
    expect(o.no_answer).toBe(0);
    for (const ms of recoveryMs(l.attempts, 3, after)) expect(ms).toBeLessThan(2000);
    // Recovered for good: from a second after the last round on, every request answered, and promptly.
    const later = l.attempts.filter((a) => a.start > after + 1000);
    expect(later.filter((a) => a.status !== 200)).toEqual([]);
    expect(Math.max(...later.map((a) => a.end - a.start))).toBeLessThan(2000);
    const records = await checkRecords(db.sql, l.attempts);
    expect(records).toMatchObject({ lost_records: 0, tokens_without_record: 0 });
    expect(records.tokens_issued).toBeGreaterThan(20);
    replicas.forEach(expectAlive);
    // The check can fail: a token whose record names another jti, and an answer with no record at all.
    const token = l.attempts.find((a) => a.kind === 'token' && a.status === 200)!;
    const forged = [token, { ...token, jti: randomUUID() }, { ...token, decisionId: randomUUID() }];
    expect(await checkRecords(db.sql, forged)).toMatchObject({ lost_records: 1, tokens_without_record: 2 });
  });

  it('a policy change under load reaches every replica within one second', async () => {
    const store = world.wired.app.policies.store;
    const base = (await store.latest())!;
    const deny = `  - id: faults-scientists-paused
    effect: deny
    roles: [data-scientist]
    actions: [dataset:read]
    resource: { classification: [phi, limited] }
`;
    const documents: typeof base.documents = { ...base.documents, 'default.yaml': base.documents['default.yaml']!.replace('rules:\n', `rules:\n${deny}`) };
    const push = (docs: typeof documents, basedOn: number, comment: string) =>
      store.create({ basedOn, documents: docs, tests: base.tests, authorId: null, comment, at: new Date() }, (tx, v) =>
        world.wired.audit.recordIn(tx, { type: 'policy.updated', outcome: 'success', actorId: null, details: { version: v.version, comment } }),
      );
    const l = load();
    l.start();
    await sleep(800);
    const v = await push(documents, base.version, 'pause scientists');
    const committed = l.now();
    try {
      await sleep(PROPAGATION_MS + 500);
    } finally {
      await l.stop();
      // Back as it was, for what follows, whatever happens below.
      await push(base.documents, v.version, 'resume');
    }
    const decisions = l.attempts.filter((a) => a.kind === 'decision' && a.status === 200);
    for (let r = 0; r < 3; r++) {
      const mine = decisions.filter((a) => a.replica === r);
      // Asked after the commit and still answered with the old version: the propagation delay, at least.
      const stale = mine.filter((a) => a.start >= committed && !a.policyVersion!.startsWith(`v${v.version}.`));
      const lag = Math.max(0, ...stale.map((a) => a.start - committed));
      expect(lag, `replica ${r}`).toBeLessThan(PROPAGATION_MS);
      // And it did decide with the new one (deny) within the second.
      const first = mine.find((a) => a.start >= committed && a.policyVersion!.startsWith(`v${v.version}.`));
      expect(first?.effect, `replica ${r}`).toBe('deny');
      expect(first!.end - committed).toBeLessThan(PROPAGATION_MS);
    }
    // The tokens refused under the new version are denials, not failures.
    expect(outage(l.attempts, 0, Infinity, (a) => a.status === 400 && a.code === 'access_denied').unexpected).toBe(0);
    expect(await checkRecords(db.sql, l.attempts)).toMatchObject({ lost_records: 0, tokens_without_record: 0 });
  });

  it('kill -9 of one replica under load: clients go on with the other two, nothing lost', async () => {
    const l = load();
    l.start();
    await sleep(1000);
    const killedAt = l.now();
    replicas[0]!.kill();
    await replicas[0]!.exited;
    await sleep(2000);
    await l.stop();
    const o = outage(l.attempts, killedAt, Infinity);
    expect(o.unexpected, unexpectedSamples(l.attempts, killedAt)).toBe(0);
    // The dead one refuses connections; the others answer throughout.
    expect(l.attempts.filter((a) => a.replica === 0 && a.start > l.now() - 1500 && a.status !== 0)).toEqual([]);
    const [, r1, r2] = recoveryMs(l.attempts, 3, killedAt);
    expect(r1).toBeLessThan(500);
    expect(r2).toBeLessThan(500);
    expect(l.attempts.filter((a) => a.start > killedAt + 500 && a.status === 200).length).toBeGreaterThan(20);
    const records = await checkRecords(db.sql, l.attempts);
    expect(records).toMatchObject({ lost_records: 0, tokens_without_record: 0 });
    expectAlive(replicas[1]!);
    expectAlive(replicas[2]!);
  });
});
