/**
 * Faults of PostgreSQL itself, at load, with two real replicas: the server
 * set read-only (as a failed-over or fenced primary is) and back, and the
 * server restarted. A PostgreSQL of this file's own (embedded, in a
 * temporary folder): the shared one serves every other test file at the
 * same time. During the outage clients get 503s (never a 2xx without its
 * record), the replicas stay up and recover by themselves, and every token
 * and decision a client got has its decision record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/db.ts';
import { checkRecords, dedicatedDatabase, faultWorld, FaultLoad, outage, recoveryMs, setReadOnly, sleep, unexpectedSamples, until, type DedicatedDatabase, type FaultWorld } from '../support/faults.ts';
import { startServer, type ServerProcess } from '../support/servers.ts';

let pg: DedicatedDatabase;
let db: TestDatabase;
let world: FaultWorld;
const replicas: ServerProcess[] = [];

beforeAll(async () => {
  pg = await dedicatedDatabase();
  db = pg.db;
  world = await faultWorld(db);
  const env = { CUSTOS_WORKERS: '1', CUSTOS_DB_POOL_MAX: '4' };
  replicas.push(...(await Promise.all([0, 1].map(() => startServer(db, { env, ready: 'custos is listening', timeoutMs: 45_000 })))));
}, 90_000);

afterAll(async () => {
  for (const r of replicas) r.kill();
  await Promise.all(replicas.map((r) => r.exited));
  await pg?.stop();
});

function load(): FaultLoad {
  return new FaultLoad({ replicas: replicas.map((r) => r.url), concurrency: 6, world });
}

function expectAlive(r: ServerProcess): void {
  expect(r.child.exitCode, r.out().slice(-3000)).toBeNull();
  expect(r.out()).not.toMatch(/uncaught|TypeError|unhandled/i);
}

/** After `at`: every replica answers 2xx again, and from `settled` on nothing fails. */
function expectRecovered(l: FaultLoad, at: number, withinMs: number): number[] {
  const ms = recoveryMs(l.attempts, replicas.length, at);
  for (const m of ms) expect(m).toBeLessThan(withinMs);
  const settled = at + Math.max(...(ms as number[])) + 500;
  expect(l.attempts.filter((a) => a.start > settled && a.status !== 200)).toEqual([]);
  return ms as number[];
}

describe('PostgreSQL faults at load, two replicas', () => {
  it('set read-only and back: 503s while it is, nothing lost, recovery without a restart', async () => {
    const l = load();
    l.start();
    await sleep(1000);
    const from = l.now();
    await setReadOnly(db.admin, true);
    await sleep(1500);
    await setReadOnly(db.admin, false);
    const back = l.now();
    await sleep(2500);
    await l.stop();
    replicas.forEach(expectAlive);
    const o = outage(l.attempts, from, Infinity);
    expect(o.unexpected, unexpectedSamples(l.attempts, from)).toBe(0);
    expect(o.no_answer).toBe(0);
    // Decision records cannot be written: nothing is answered (fail closed).
    expect(o.count_503).toBeGreaterThan(10);
    // Once the sessions have taken the setting (each at its next idle moment), almost nothing is answered.
    const during = l.attempts.filter((a) => a.start > from + 500 && a.end < back);
    expect(during.filter((a) => a.status === 200).length).toBeLessThanOrEqual(during.length / 10);
    expectRecovered(l, back, 1500);
    expect(await checkRecords(db.sql, l.attempts)).toMatchObject({ lost_records: 0, tokens_without_record: 0 });
  });

  it('restarted: 503s while it is down, nothing lost, recovery without a restart of Custos', async () => {
    const l = load();
    l.start();
    await sleep(1000);
    const from = l.now();
    await pg.restart(1000);
    const back = l.now();
    await sleep(3000);
    await l.stop();
    replicas.forEach(expectAlive);
    const o = outage(l.attempts, from, Infinity);
    expect(o.unexpected, unexpectedSamples(l.attempts, from)).toBe(0);
    expect(o.no_answer).toBe(0);
    expect(o.count_503).toBeGreaterThan(10);
    expectRecovered(l, back, 2500);
    // The tests' own clients reconnect too.
    await until('the database answers the test', () => db.sql`SELECT 1`.then(() => true, () => false));
    expect(await checkRecords(db.sql, l.attempts)).toMatchObject({ lost_records: 0, tokens_without_record: 0 });
  });
});
