/**
 * The store's guarantees on their own: the cursor advance is a
 * compare-and-set (of two commits of the same records, exactly one lands, and
 * the loser writes nothing: no alert, no evidence, no notification row); the
 * consumer lock admits one holder and passes on when it goes; open alert
 * counts leave resolved alerts out.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7Generator, ManualClock } from '../../src/clock.ts';
import { createMonitorStore } from '../../src/monitoring/postgres/index.ts';
import type { AlertRaised } from '../../src/monitoring/records.ts';
import { CursorConflictError, type MonitorStore, type PassCommit } from '../../src/monitoring/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
let store: MonitorStore;
let chain: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const clock = new ManualClock();
  store = createMonitorStore(db.appSql, { clock, ids: uuidv7Generator(clock), webhook: true });
  chain = randomUUID();
  await db.sql`INSERT INTO audit_chains (id, log, instance, started_at, head_seq) VALUES (${chain}, 'decision_log', 'test', now(), 100)`;
});
afterAll(async () => db?.drop());

const alert = (key: string, severity: AlertRaised['severity'] = 'high'): AlertRaised => ({
  detector: 'deny_burst',
  severity,
  subject: 's',
  dedupeKey: key,
  title: 't',
  details: {},
  at: Date.UTC(2026, 5, 1),
  evidence: [{ log: 'decision_log', id: randomUUID(), at: Date.UTC(2026, 5, 1) }],
});

// One chain here, so the sum of the cursors the pass was judged from is its `from`.
const pass = (from: number, to: number, alerts: AlertRaised[]): PassCommit => ({ cursorSum: from, advances: [{ chain, log: 'decision_log', from, to }], alerts, changes: { seen: [], baselines: new Map() } });
const count = async (table: 'alerts' | 'alert_evidence' | 'webhook_deliveries') => (await db.sql`SELECT count(*)::int AS n FROM ${db.sql(table)}`)[0]!.n as number;

describe('the monitoring store', () => {
  it('advances a cursor only from the value it read: a second commit of the same records writes nothing', async () => {
    const r = await store.commit(pass(0, 10, [alert('k1')]));
    expect(r.raised).toHaveLength(1);
    expect(await count('webhook_deliveries')).toBe(1);
    await expect(store.commit(pass(0, 10, [alert('k2')]))).rejects.toBeInstanceOf(CursorConflictError);
    await expect(store.commit(pass(5, 12, [alert('k3')]))).rejects.toBeInstanceOf(CursorConflictError);
    expect(await count('alerts')).toBe(1);
    expect(await count('alert_evidence')).toBe(1);
    expect(await count('webhook_deliveries')).toBe(1);
    expect((await db.sql`SELECT seq::int FROM monitoring_cursors WHERE chain_id = ${chain}`)[0]!.seq).toBe(10);
  });

  it('of two consumers committing the same records at once, exactly one lands', async () => {
    const results = await Promise.allSettled([store.commit(pass(10, 20, [alert('race')])), store.commit(pass(10, 20, [alert('race')]))]);
    expect(results.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(CursorConflictError);
    const [a] = await db.sql`SELECT occurrences FROM alerts WHERE dedupe_key = 'race'`;
    expect(a!.occurrences).toBe(1);
  });

  it('refuses a pass judged before the cursor of another chain moved, though the cursor of its own is unchanged', async () => {
    const other = randomUUID();
    await db.sql`INSERT INTO audit_chains (id, log, instance, started_at, head_seq) VALUES (${other}, 'audit_events', 'test', now(), 5)`;
    // Judged when the cursors summed to 20 (chain at 20, `other` at 0); meanwhile `other` moved to 3.
    await store.commit({ cursorSum: 20, advances: [{ chain: other, log: 'audit_events', from: 0, to: 3 }], alerts: [], changes: { seen: [], baselines: new Map() } });
    await expect(store.commit({ cursorSum: 20, advances: [{ chain, log: 'decision_log', from: 20, to: 21 }], alerts: [alert('stale')], changes: { seen: [], baselines: new Map() } })).rejects.toBeInstanceOf(CursorConflictError);
    expect(await db.sql`SELECT 1 FROM alerts WHERE dedupe_key = 'stale'`).toHaveLength(0);
    // Judged from where the cursors really are, it lands.
    await store.commit({ cursorSum: 23, advances: [{ chain, log: 'decision_log', from: 20, to: 21 }], alerts: [], changes: { seen: [], baselines: new Map() } });
    await db.sql`UPDATE monitoring_cursors SET seq = 20 WHERE chain_id = ${chain}`;
    await db.sql`DELETE FROM monitoring_cursors WHERE chain_id = ${other}`;
  });

  it('groups a repeat into the unresolved alert, and starts a new one once it is resolved', async () => {
    const first = await store.commit(pass(20, 21, [alert('rep')]));
    const again = await store.commit(pass(21, 22, [alert('rep')]));
    expect(again.repeated).toEqual(first.raised);
    await db.sql`UPDATE alerts SET status = 'resolved', resolved_at = now(), finding = 'reviewed' WHERE dedupe_key = 'rep'`;
    const fresh = await store.commit(pass(22, 23, [alert('rep')]));
    expect(fresh.raised).toHaveLength(1);
    expect(fresh.raised[0]).not.toBe(first.raised[0]);
  });

  it('queues no webhook delivery when no webhook is configured', async () => {
    const clock = new ManualClock();
    const quiet = createMonitorStore(db.appSql, { clock, ids: uuidv7Generator(clock), webhook: false });
    const before = await count('webhook_deliveries');
    const r = await quiet.commit(pass(23, 24, [alert('no-hook', 'medium')]));
    expect(r.raised).toHaveLength(1);
    expect(await count('webhook_deliveries')).toBe(before);
    await db.sql`UPDATE alerts SET status = 'resolved', resolved_at = now(), finding = 'test' WHERE dedupe_key = 'no-hook'`;
    await db.sql`UPDATE monitoring_cursors SET seq = 23 WHERE chain_id = ${chain}`;
  });

  it('counts unresolved alerts by severity', async () => {
    await store.commit(pass(23, 24, [alert('c1', 'critical'), alert('l1', 'low')]));
    // k1, race, the new rep: high; c1 critical; l1 low; the resolved rep left out.
    expect(await store.openAlertCounts()).toEqual({ low: 1, medium: 0, high: 3, critical: 1 });
  });

  it('admits one lock holder; when it lets go, the next one takes it', async () => {
    const a = store.lock();
    const b = store.lock();
    expect(await a.hold()).toBe('acquired');
    expect(await b.hold()).toBe('busy');
    expect(await a.hold()).toBe('held');
    await a.release();
    expect(await b.hold()).toBe('acquired');
    expect(await b.hold()).toBe('held');
    // Its session killed: the holder notices at its next hold (a new backend, not "held": the pipeline rebuilds) and locks again.
    const [killed] = await db.sql`SELECT pid FROM pg_stat_activity WHERE application_name = 'custos-monitoring' AND datname = current_database()`;
    await db.sql`SELECT pg_terminate_backend(${killed!.pid})`;
    // The first tries may still see the dead connection and fail (the pipeline retries after a pause).
    let after: string | undefined;
    for (let i = 0; i < 5 && after === undefined; i++) after = await b.hold().catch(() => undefined);
    expect(after).toBe('acquired');
    const holders = await db.sql`
      SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
    expect(holders).toHaveLength(1);
    expect(holders[0]!.pid).not.toBe(killed!.pid);
    await b.release();
  });
});
