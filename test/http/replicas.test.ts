/**
 * Two replicas on one database: a role-graph change made through one reaches
 * the other's policy through NOTIFY (no periodic reload runs here), so the
 * second decides with the new graph within a second.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { createRequestListener } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';
import { wire } from '../../src/wire.ts';
import { adminOf, personDirect, startTestApp, TEST_KEY, type Person, type TestApp } from '../support/app.ts';

const PROPAGATION_MS = 1_000;

describe('role-graph changes across replicas', () => {
  let a: TestApp;
  let admin: Person;
  let sam: Person;
  let sqlB: Sql;
  let serverB: Server;
  let unlistenB: () => Promise<void>;
  let urlB: string;

  beforeAll(async () => {
    a = await startTestApp({ CUSTOS_IDLE_TIMEOUT_SECONDS: '3600', CUSTOS_SESSION_TTL_SECONDS: '3600' });
    admin = await adminOf(a);
    sam = await personDirect(a, 'sam');
    expect((await a.call('POST', '/v1/projects', { token: admin.token, body: { id: 'p1', name: 'P1' } })).status).toBe(201);
    const ds = await a.call('POST', '/v1/datasets', {
      token: admin.token,
      body: { id: 'd1', project_id: 'p1', owner_id: admin.id, purposes: ['research'], columns: [{ name: 'age', type: 'integer' }] },
    });
    expect(ds.status, JSON.stringify(ds.body)).toBe(201);

    // Replica B: its own pool, policy and listener on the same database, wired as main.ts wires it.
    sqlB = createSql({ url: a.db.url, max: 3 });
    const wiredB = wire({ config: a.config, sql: sqlB, log: createLogger({ level: 'silent' }), encryptionKey: TEST_KEY, clock: a.clock });
    const loaded = await wiredB.policy.reload();
    expect(loaded.ok).toBe(true);
    await wiredB.catalogSync.start();
    unlistenB = () => wiredB.catalogSync.stop();
    serverB = createServer(createRequestListener(wiredB.app)).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => serverB.once('listening', () => resolve()));
    urlB = `http://127.0.0.1:${(serverB.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    serverB?.closeAllConnections();
    await new Promise<void>((resolve) => (serverB ? serverB.close(() => resolve()) : resolve()));
    await unlistenB?.().catch(() => {});
    await sqlB?.end({ timeout: 5 });
    await a?.close();
  });

  /** sam reading d1 for research, decided by the replica at `base`. */
  async function effectAt(base: string): Promise<string> {
    const r = await fetch(`${base}/v1/decisions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ principal_id: sam.id, dataset: 'd1', purpose: 'research', columns: ['age'] }),
    });
    const body = (await r.json()) as { effect: string };
    expect(r.status, JSON.stringify(body)).toBe(200);
    return body.effect;
  }

  /** Milliseconds until the replica at `base` answers `effect`; fails past PROPAGATION_MS. */
  async function timeUntil(base: string, effect: string): Promise<number> {
    const t0 = Date.now();
    let last = '';
    while (Date.now() - t0 <= PROPAGATION_MS) {
      last = await effectAt(base);
      if (last === effect) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`replica B still answers ${last} ${PROPAGATION_MS} ms after the change (expected ${effect})`);
  }

  it('lets replica B allow within a second once a new role inheriting data-scientist is created and assigned on A', async () => {
    expect(await effectAt(a.url)).toBe('deny');
    expect(await effectAt(urlB)).toBe('deny');

    const role = await a.call('POST', '/v1/roles', { token: admin.token, body: { id: 'analyst', inherits: ['data-scientist'] } });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    const assigned = await a.call('POST', '/v1/role-assignments', { token: admin.token, body: { principal_id: sam.id, role_id: 'analyst' } });
    expect(assigned.status, JSON.stringify(assigned.body)).toBe(201);

    expect(await effectAt(a.url)).toBe('allow');
    expect(await timeUntil(urlB, 'allow')).toBeLessThanOrEqual(PROPAGATION_MS);
  });

  it('makes replica B deny within a second once A removes what the role inherits', async () => {
    expect(await effectAt(urlB)).toBe('allow');
    const patch = await a.call('PATCH', '/v1/roles/analyst', { token: admin.token, body: { inherits: [] } });
    expect(patch.status, JSON.stringify(patch.body)).toBe(200);

    expect(await effectAt(a.url)).toBe('deny');
    expect(await timeUntil(urlB, 'deny')).toBeLessThanOrEqual(PROPAGATION_MS);
    // And it stays so: not a cache that happened to expire.
    await new Promise((r) => setTimeout(r, 200));
    expect(await effectAt(urlB)).toBe('deny');
  });

  it('picks up a change made straight in the database (role_inherits) within a second', async () => {
    await a.db.sql`INSERT INTO role_inherits (role_id, parent_id) VALUES ('analyst', 'data-scientist') ON CONFLICT DO NOTHING`;
    expect(await timeUntil(urlB, 'allow')).toBeLessThanOrEqual(PROPAGATION_MS);
  });
});
