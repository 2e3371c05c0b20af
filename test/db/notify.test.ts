/**
 * The change listener on real PostgreSQL: row changes arrive as
 * `table:key`, a TRUNCATE as the table alone, a payload sent through the
 * pool comes back, and every end of the listening connection — killed by
 * the server, or declared dead by the caller — is reported before LISTEN is
 * in force again on a new one.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openCatalogListener, type CatalogListener } from '../../src/db/notify.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

describe('the catalog change listener', () => {
  let db: TestDatabase;
  let listener: CatalogListener;
  const events: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    listener = await openCatalogListener(
      db.appSql,
      { onNotify: (p) => events.push(p), onListening: () => events.push('(listening)'), onLost: (r) => events.push(`(lost: ${r})`) },
      { retryMs: 50 },
    );
  });

  afterAll(async () => {
    await listener?.close();
    await db?.drop();
  });

  it('is listening once open', () => {
    expect(events).toEqual(['(listening)']);
  });

  it('hears each changed row with its key, an update moving a row under both keys, and a TRUNCATE as its table', async () => {
    events.length = 0;
    await db.sql`INSERT INTO projects (id, name) VALUES ('p1', 'P1')`;
    await db.sql`INSERT INTO vendors (id, name) VALUES ('v1', 'V1'), ('v2', 'V2')`;
    await db.sql`INSERT INTO baas (id, vendor_id, reference, effective_on, expires_on, purposes, classifications)
                 VALUES ('00000000-0000-4000-8000-000000000001', 'v1', 'B', '2026-01-01', '2027-01-01', '{research}', '{deidentified}')`;
    await db.sql`UPDATE baas SET vendor_id = 'v2'`;
    await db.sql`TRUNCATE baas`;
    await vi.waitFor(() => expect(events).toContain('baas'));
    expect(events.filter((e) => e.startsWith('baas'))).toEqual(['baas:v1', 'baas:v2', 'baas:v1', 'baas']);
  });

  it('brings back what is sent through the pool', async () => {
    events.length = 0;
    await listener.notify('sync:abc');
    await vi.waitFor(() => expect(events).toEqual(['sync:abc']));
  });

  it('reports a connection the server ends, and listens again on a new one that hears changes', async () => {
    events.length = 0;
    const [killed] = await db.sql`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN custos_catalog'`;
    expect(killed!.n).toBe(1);
    await vi.waitFor(() => expect(events).toEqual(['(lost: the listening connection closed)', '(listening)']), { timeout: 5000 });
    await db.sql`INSERT INTO vendors (id, name) VALUES ('v3', 'V3')`;
    await listener.notify('sync:after');
    await vi.waitFor(() => expect(events).toContain('sync:after'));
  });

  it('closes and re-opens when the caller declares it dead', async () => {
    events.length = 0;
    listener.restart('a barrier did not come back');
    expect(events).toEqual(['(lost: a barrier did not come back)']);
    await vi.waitFor(() => expect(events).toEqual(['(lost: a barrier did not come back)', '(listening)']), { timeout: 5000 });
    const listening = await db.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN custos_catalog'`;
    expect(listening[0]!.n).toBe(1);
  });

  it('reports nothing more once closed', async () => {
    await listener.close();
    events.length = 0;
    await db.sql`INSERT INTO vendors (id, name) VALUES ('v4', 'V4')`;
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toEqual([]);
  });
});
