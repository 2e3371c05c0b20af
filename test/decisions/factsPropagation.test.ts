/**
 * Facts in memory on two replicas of one database, against real PostgreSQL:
 * a fact change (role removed, grant revoked, principal disabled, BAA
 * expired) reaches the next decision of both through notification alone —
 * no cache lifetime exists, and the replicas' barriers (a notification sent
 * after the change and received back) stand in for "after the notification
 * arrived", so no test waits on a timer. With the listening connection
 * killed, decisions read the database, never memory, and memory is trusted
 * again once the listener is back.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { authenticateBasicHeader, createClientCredential } from '../../src/auth/clients/clientCredentials.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { createLogger } from '../../src/logger.ts';
import { wire, type Wired } from '../../src/wire.ts';
import { startTestApp, TEST_KEY, type TestApp } from '../support/app.ts';

describe('facts in memory across replicas', () => {
  let a: TestApp;
  let sqlB: Sql;
  let b: Wired;
  let scientist: string;
  let vendorStaff: string;
  let grantee: string;

  beforeAll(async () => {
    a = await startTestApp();
    const c = a.wired.catalog;
    await c.createProject({ id: 'onc', name: 'Oncology' });
    await c.createDataset({ id: 'notes', project_id: 'onc', owner_id: (await c.createPrincipal({ kind: 'user', name: 'owner' })).id, purposes: ['research', 'model-training'], columns: [{ name: 'age', type: 'integer' }] });
    scientist = (await c.createPrincipal({ kind: 'user', name: 'sci' })).id;
    await c.assignRole({ principal_id: scientist, role_id: 'ai-researcher', project_id: 'onc' }, null);
    await a.db.sql`INSERT INTO vendors (id, name) VALUES ('acme', 'Acme Labeling')`;
    await a.db.sql`INSERT INTO baas (id, vendor_id, reference, effective_on, expires_on, purposes, classifications)
                   VALUES (gen_random_uuid(), 'acme', 'BAA-1', '2026-01-01', '2027-01-01', '{research}', '{deidentified}')`;
    vendorStaff = (await c.createPrincipal({ kind: 'user', name: 'labeler', vendor_id: 'acme' })).id;
    await c.assignRole({ principal_id: vendorStaff, role_id: 'ai-researcher', project_id: 'onc' }, null);
    grantee = (await c.createPrincipal({ kind: 'user', name: 'visitor' })).id;
    await a.db.sql`INSERT INTO grants (id, principal_id, role_id, project_id, not_before, expires_at, status, break_glass, justification)
                   VALUES (gen_random_uuid(), ${grantee}, 'ai-researcher', 'onc', ${new Date(a.clock.now().getTime() - 60_000)}, ${new Date(a.clock.now().getTime() + 3600_000)}, 'active', false, 'a test')`;

    // Replica B: its own pool, policy, facts and listener on the same database.
    sqlB = createSql({ url: a.db.url, max: 3, role: 'custos_app' });
    b = wire({ config: a.config, sql: sqlB, log: createLogger({ level: 'silent' }), encryptionKey: TEST_KEY, clock: a.clock });
    expect((await b.policy.reload()).ok).toBe(true);
    await b.catalogSync.start();
    await a.wired.invalidate();
  });

  afterAll(async () => {
    await b?.catalogSync.stop();
    await sqlB?.end({ timeout: 5 });
    await a?.close();
  });

  /** The effect and reasons of a decision made by a replica's decision path (facts + engine). */
  async function decideOn(w: Wired, principalId: string) {
    const { evaluate } = await import('../../src/decisions/evaluate.ts');
    const e = await evaluate(w.decisions, { principalId, datasetId: 'notes', action: 'dataset:read', purpose: 'research', columns: ['age'] });
    return { effect: e.decision.effect, reasons: e.decision.reasons.join('; ') };
  }

  /** Both replicas, after each has seen every notification sent so far. */
  async function both(principalId: string) {
    await Promise.all([a.wired.invalidate(), b.invalidate()]);
    return Promise.all([decideOn(a.wired, principalId), decideOn(b, principalId)]);
  }

  /** Runs a change and checks both replicas decide `then` on it from memory (not by reading the database). */
  async function change(principalId: string, write: () => Promise<unknown>, then: RegExp) {
    for (const r of await both(principalId)) expect(r.effect).toBe('allow');
    const before = [a.wired.facts.stats.misses, b.facts.stats.misses];
    const refetchedBefore = b.facts.stats.refetched;
    await write();
    for (const r of await both(principalId)) expect(r).toMatchObject({ effect: 'deny', reasons: expect.stringMatching(then) });
    expect([a.wired.facts.stats.misses, b.facts.stats.misses]).toEqual(before);
    expect(b.facts.stats.refetched).toBeGreaterThan(refetchedBefore);
  }

  it('holds every fact in memory once listening', () => {
    expect(a.wired.facts.isTrusted).toBe(true);
    expect(b.facts.isTrusted).toBe(true);
    expect(b.facts.size.principals).toBeGreaterThanOrEqual(4);
  });

  it('a role removed', async () => {
    await change(scientist, () => a.db.sql`DELETE FROM role_assignments WHERE principal_id = ${scientist}`, /no role/);
  });

  it('a grant revoked', async () => {
    await change(grantee, () => a.db.sql`UPDATE grants SET status = 'revoked' WHERE principal_id = ${grantee}`, /no role/);
  });

  it('a principal disabled', async () => {
    await a.db.sql`INSERT INTO role_assignments (id, principal_id, role_id, project_id) VALUES (gen_random_uuid(), ${scientist}, 'ai-researcher', 'onc')`;
    await change(scientist, () => a.db.sql`UPDATE principals SET status = 'disabled' WHERE id = ${scientist}`, /is disabled/);
  });

  it("a vendor's BAA expired", async () => {
    await change(vendorStaff, () => a.db.sql`UPDATE baas SET expires_on = '2026-05-01' WHERE vendor_id = 'acme'`, /no active BAA/);
  });

  it('with the listening connection killed, reads the database until the listener is back, then memory again', async () => {
    await a.db.sql`UPDATE baas SET expires_on = '2027-01-01' WHERE vendor_id = 'acme'`;
    for (const r of await both(vendorStaff)) expect(r.effect).toBe('allow');
    const killed = await a.db.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN custos_catalog'`;
    expect(killed.length).toBe(2);
    await vi.waitFor(() => expect([a.wired.facts.isTrusted, b.facts.isTrusted]).toEqual([false, false]), { timeout: 5000, interval: 1 });
    const misses = b.facts.stats.misses;
    // While away, changes notify no one: the decisions must still see this one.
    await a.db.sql`UPDATE baas SET expires_on = '2026-05-01' WHERE vendor_id = 'acme'`;
    if (!b.facts.isTrusted) {
      expect(await decideOn(b, vendorStaff)).toMatchObject({ effect: 'deny', reasons: expect.stringMatching(/no active BAA/) });
      expect(b.facts.stats.misses).toBe(misses + 2);
    }
    await vi.waitFor(() => expect([a.wired.facts.isTrusted, b.facts.isTrusted]).toEqual([true, true]), { timeout: 10_000, interval: 10 });
    const hits = b.facts.stats.hits;
    expect(await decideOn(b, vendorStaff)).toMatchObject({ effect: 'deny', reasons: expect.stringMatching(/no active BAA/) });
    expect(b.facts.stats.hits).toBe(hits + 2);
    expect(b.facts.stats.losses).toBeGreaterThanOrEqual(1);
    // And changes flow again through the new connection.
    await a.db.sql`UPDATE baas SET expires_on = '2027-01-01' WHERE vendor_id = 'acme'`;
    for (const r of await both(vendorStaff)) expect(r.effect).toBe('allow');
  });

  describe('client contexts (cached for a minute, emptied by the same notifications)', () => {
    const meta = { ip: '127.0.0.1', requestId: undefined };
    /** A new training job with a client secret, sponsored by an active person; its Basic header. */
    async function newClient(name: string) {
      const c = a.wired.catalog;
      const sponsor = (await c.createPrincipal({ kind: 'user', name: `${name}-sponsor` })).id;
      const job = (await c.createPrincipal({ kind: 'service', name, sponsor_id: sponsor, project_id: 'onc' })).id;
      const cred = await createClientCredential(a.wired.catalogOps, { principalId: job, actorId: sponsor, meta });
      const header = `Basic ${Buffer.from(`${cred.client_id}:${cred.client_secret}`).toString('base64')}`;
      return { job, header };
    }
    /** Replica B authenticates the header as the job. */
    async function acceptedOnB(header: string, job: string) {
      expect((await authenticateBasicHeader(b.auth, header, meta)).principalId).toBe(job);
    }
    /** Replica B refuses the header. */
    async function refusedOnB(header: string) {
      await expect(authenticateBasicHeader(b.auth, header, meta)).rejects.toMatchObject({ code: 'unauthenticated' });
    }

    it.each([
      ['a credential revoked', (job: string) => a.db.sql`UPDATE service_credentials SET revoked_at = now() WHERE principal_id = ${job}`],
      ["the service's sponsor disabled", (job: string) => a.db.sql`UPDATE principals SET status = 'disabled' WHERE id = (SELECT sponsor_id FROM principals WHERE id = ${job})`],
    ] as const)('refuses on replica B once %s on A is notified, though B had the context cached', async (what, change) => {
      const { job, header } = await newClient(`job-${what.replace(/\W+/g, '-')}`);
      await b.catalogSync.sync();
      await acceptedOnB(header, job);
      await acceptedOnB(header, job);
      expect(b.auth.clientContexts!.size).toBeGreaterThan(0);
      await change(job);
      // The barrier alone (not B's own invalidate, which empties the cache itself): every earlier notification has arrived.
      await b.catalogSync.sync();
      await refusedOnB(header);
    });

    it('serves no cached context while the listener is away, nor one cached before it went', async () => {
      const { job, header } = await newClient('job-listener-away');
      await b.catalogSync.sync();
      await acceptedOnB(header, job);
      await a.db.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN custos_catalog'`;
      await vi.waitFor(() => expect(b.facts.isTrusted).toBe(false), { timeout: 5000, interval: 1 });
      // A context read while away is not kept: changes made now notify no one.
      await acceptedOnB(header, job);
      await a.db.sql`UPDATE service_credentials SET revoked_at = now() WHERE principal_id = ${job}`;
      await refusedOnB(header);
      // The listener comes back after at least 0.1 s (db/client.ts): all of the above ran while it was away.
      expect(b.facts.isTrusted).toBe(false);
      await vi.waitFor(() => expect([a.wired.facts.isTrusted, b.facts.isTrusted]).toEqual([true, true]), { timeout: 10_000, interval: 10 });
    });
  });
});
