/**
 * An audit event appended inside a change's transaction commits with the
 * change or not at all ("every change with its trace", docs/security-model.md), as the
 * application role, and its chain verifies like every other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/postgres/auditLog.ts';
import { ManualClock, uuidv7Generator } from '../../src/clock.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
const audit = () => createAuditLog(db.appSql, { clock, ids: uuidv7Generator(clock) });
const count = async (type: string) => Number((await db.sql`SELECT count(*)::int AS n FROM audit_events WHERE type = ${type}`)[0]!.n);
const projects = async (id: string) => Number((await db.sql`SELECT count(*)::int AS n FROM projects WHERE id = ${id}`)[0]!.n);

describe('recordIn', () => {
  it('commits the event with the change', async () => {
    const log = audit();
    await db.appSql.begin(async (tx) => {
      await tx`INSERT INTO projects (id, name) VALUES ('tx-ok', 'Committed')`;
      await log.recordIn(tx, { type: 'test.tx_ok', outcome: 'success', details: { id: 'tx-ok' } });
    });
    expect(await projects('tx-ok')).toBe(1);
    expect(await count('test.tx_ok')).toBe(1);
  });

  it('drops the event when the change rolls back', async () => {
    const log = audit();
    await expect(
      db.appSql.begin(async (tx) => {
        await log.recordIn(tx, { type: 'test.tx_rolled_back', outcome: 'success' });
        await tx`INSERT INTO projects (id, name) VALUES ('tx-rb', 'Rolled back')`;
        throw new Error('change failed after its event');
      }),
    ).rejects.toThrow('change failed after its event');
    expect(await projects('tx-rb')).toBe(0);
    expect(await count('test.tx_rolled_back')).toBe(0);
    // Nothing is left behind: not the event, not a moved chain head, not even the chain's registration.
    const [chain] = await log.chains();
    expect(await db.sql`SELECT 1 FROM audit_chains WHERE id = ${chain!}`).toHaveLength(0);
    expect(await db.sql`SELECT 1 FROM audit_events WHERE chain_id = ${chain!}`).toHaveLength(0);
  });

  it('rolls the change back when its event cannot be written', async () => {
    const log = audit();
    // A lone surrogate cannot be stored as jsonb text: the append fails inside the transaction.
    await expect(
      db.appSql.begin(async (tx) => {
        await tx`INSERT INTO projects (id, name) VALUES ('tx-noevent', 'No event')`;
        await log.recordIn(tx, { type: 'test.tx_bad_event', outcome: 'success', details: { note: 'x\uD800y' } });
      }),
    ).rejects.toBeTruthy();
    expect(await projects('tx-noevent')).toBe(0);
    expect(await count('test.tx_bad_event')).toBe(0);
  });

  it('registers its chain inside the caller\'s transaction: appends never wait for another pooled connection', async () => {
    // Every connection of a one-connection pool is held by the caller's transaction.
    const { createSql } = await import('../../src/db/client.ts');
    const one = createSql({ url: db.url, max: 1, role: 'custos_app' });
    try {
      const solo = createAuditLog(one, { clock, ids: uuidv7Generator(clock) });
      await one.begin(async (tx) => solo.recordIn(tx, { type: 'test.tx_one_connection', outcome: 'info' }));
      expect(await count('test.tx_one_connection')).toBe(1);
    } finally {
      await one.end({ timeout: 5 });
    }
  });

  it('keeps its own chain, checkpointed and verified with the others', async () => {
    const log = audit();
    await db.appSql.begin(async (tx) => log.recordIn(tx, { type: 'test.tx_chain', outcome: 'info' }));
    const chains = await log.chains();
    expect(chains).toHaveLength(1);
    const [c] = await db.sql`SELECT instance, log FROM audit_chains WHERE id = ${chains[0]!}`;
    expect(c!.log).toBe('audit_events');
    expect(c!.instance).toMatch(/:tx$/);
  });
});
