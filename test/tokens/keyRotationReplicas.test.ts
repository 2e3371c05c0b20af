/**
 * Rotation across replicas: three key rings, each with its own connection
 * pool and its own clock, on one real PostgreSQL. The first key is created
 * once when they start together; a rotation made on one is in every JWKS
 * within the refresh interval; each switches to the new key at the moment
 * its clock reaches the activation, from the schedule it already holds (no
 * read, no write, no timer at that moment); a replica configured with a
 * longer publish-ahead period than the one that scheduled the key refuses to
 * sign rather than sign with it early; an immediate rotation withdraws a
 * pending key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { KEY_REFRESH_MS, KeyRing } from '../../src/tokens/keyRing.ts';
import type { SigningKeyStore } from '../../src/tokens/keyStore.ts';
import { createSigningKeyStore } from '../../src/tokens/postgres/signingKeys.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const START = Date.UTC(2026, 5, 1, 12, 0, 0);
const KEY = Buffer.alloc(32, 7);

interface Replica {
  ring: KeyRing;
  clock: ManualClock;
  /** Reads of the schedule this replica made. */
  reads: () => number;
}

let db: TestDatabase;
const pools: Sql[] = [];

function replica(publishAheadSeconds = 900): Replica {
  const sql = createSql({ url: db.url, max: 2, role: 'custos_app' });
  pools.push(sql);
  const inner = createSigningKeyStore(sql);
  let reads = 0;
  const store: SigningKeyStore = {
    published: (now) => {
      reads++;
      return inner.published(now);
    },
    rotate: (...args) => inner.rotate(...args),
  };
  const clock = new ManualClock(START);
  return { ring: new KeyRing({ store, clock, encryptionKey: KEY, maxTokenSeconds: 3600, publishAheadSeconds }), clock, reads: () => reads };
}

const kids = async (r: Replica) => (await r.ring.jwks()).keys.map((k) => k.kid).sort();

let a: Replica;
let b: Replica;
let c: Replica;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b, c] = [replica(), replica(), replica()];
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end({ timeout: 5 })));
  await db?.drop();
});

describe('signing-key rotation across replicas', () => {
  it('creates the first key once when the replicas start together', async () => {
    await Promise.all([a.ring.init(), b.ring.init(), c.ring.init()]);
    const rows = await db.sql`SELECT kid, immediate FROM signing_keys`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.immediate).toBe(true);
    for (const r of [a, b, c]) expect((await r.ring.activeKey()).kid).toBe(rows[0]!.kid);
  });

  it('publishes the next key in every replica within the refresh interval, and each switches at the activation by its own clock with no read at that moment', async () => {
    const old = (await a.ring.activeKey()).kid;
    for (const r of [a, b, c]) {
      r.clock.advance(60_000);
      await r.ring.refresh();
    }
    const rotation = await a.ring.rotate();
    const activation = rotation.activatesAt.getTime();
    expect(activation - a.clock.now().getTime()).toBe(900_000);

    // b and c still serve what they read last, for at most the refresh interval.
    expect(await kids(b)).toEqual([old]);
    for (const r of [b, c]) r.clock.advance(KEY_REFRESH_MS + 1);
    for (const r of [a, b, c]) expect(await kids(r)).toEqual([old, rotation.kid].sort());

    for (const r of [a, b, c]) {
      // Read the schedule a millisecond before the activation…
      r.clock.set(activation - 1);
      await r.ring.refresh();
      expect((await r.ring.activeKey()).kid).toBe(old);
      const readsBefore = r.reads();
      // …and at the activation the new key signs, from what was read before.
      r.clock.set(activation);
      expect((await r.ring.activeKey()).kid).toBe(rotation.kid);
      expect(r.reads()).toBe(readsBefore);
    }
  });

  it('a replica configured with a longer publish-ahead period refuses to sign (503) until the key has been published that long', async () => {
    for (const r of [a, b, c]) r.clock.advance(3600_000);
    const rotation = await a.ring.rotate();
    const stricter = replica(1200);
    stricter.clock.set(rotation.activatesAt);
    await stricter.ring.refresh();
    // Neither the new key (published 900 s) nor the old one (retired at the activation).
    await expect(stricter.ring.activeKey()).rejects.toMatchObject({ code: 'unavailable', detail: { reason: expect.stringMatching(/less than 1200 s/) } });
    stricter.clock.set(rotation.activatesAt.getTime() + 300_000 - 1);
    await expect(stricter.ring.activeKey()).rejects.toMatchObject({ code: 'unavailable' });
    stricter.clock.advance(1);
    expect((await stricter.ring.activeKey()).kid).toBe(rotation.kid);
    // The replicas configured alike signed with it from its activation.
    a.clock.set(rotation.activatesAt);
    expect((await a.ring.activeKey()).kid).toBe(rotation.kid);
  });

  it('an immediate rotation on one replica withdraws a pending key; the others sign with the new key once they re-read (within the refresh interval)', async () => {
    const later = a.clock.now().getTime() + 3600_000;
    for (const r of [a, b, c]) r.clock.set(later);
    const current = (await a.ring.activeKey()).kid;
    const scheduled = await a.ring.rotate();
    for (const r of [b, c]) await r.ring.refresh();
    b.clock.advance(120_000);
    const emergency = await b.ring.rotate({ immediate: true });
    expect(emergency).toMatchObject({ retired: current, immediate: true, withdrawn: scheduled.kid });
    expect(emergency.activatesAt.getTime()).toBe(b.clock.now().getTime());
    expect((await b.ring.activeKey()).kid).toBe(emergency.kid);
    // The compromised key stays published until its tokens expire (as any retired key); the withdrawn one is gone.
    expect(await kids(b)).toEqual(expect.arrayContaining([current, emergency.kid]));
    expect(await kids(b)).not.toContain(scheduled.kid);
    // c re-reads within the refresh interval and follows; the withdrawn key never signs, even at its planned time.
    c.clock.set(b.clock.now().getTime() + KEY_REFRESH_MS + 1);
    expect((await c.ring.activeKey()).kid).toBe(emergency.kid);
    c.clock.set(scheduled.activatesAt);
    await c.ring.refresh();
    expect((await c.ring.activeKey()).kid).toBe(emergency.kid);
    expect(await kids(c)).not.toContain(scheduled.kid);
    const [withdrawn] = await db.sql`SELECT retired_at, publish_until, activates_at FROM signing_keys WHERE kid = ${scheduled.kid}`;
    expect(withdrawn!.retired_at.getTime()).toBeLessThan(withdrawn!.activates_at.getTime());
  });
});
