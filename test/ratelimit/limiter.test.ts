/**
 * The limiter on a real PostgreSQL: the shared bucket's SQL does what
 * bucket.ts does; two limiters (two replicas' worth) on one database share a
 * client's quota instead of doubling it; a client's own limit replaces its
 * class's; without the database each process limits alone; and throttling
 * is audited once per client per window, with the count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { RateLimitedError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import type { Limit } from '../../src/ratelimit/bucket.ts';
import { RateLimiter, type ClientSubject, type RateLimitSettings } from '../../src/ratelimit/limiter.ts';
import { createBucketStore, type BucketStore } from '../../src/ratelimit/postgres/bucketStore.ts';
import { wire, type Wired } from '../../src/wire.ts';
import { TEST_KEY } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
let wired: Wired;
let store: BucketStore;
const log = createLogger({ level: 'silent' });

beforeAll(async () => {
  db = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_LOG_LEVEL: 'silent' });
  wired = wire({ config, sql: db.appSql, log, encryptionKey: TEST_KEY });
  store = createBucketStore(db.appSql);
});

afterAll(async () => {
  await db?.drop();
});

function settings(classes: Partial<Record<'service' | 'user' | 'address', Limit>>, clients: [string, Limit][] = [], leaseFraction = 0.1): RateLimitSettings {
  return {
    classes: { service: { rate: 1000, burst: 1000 }, user: { rate: 1000, burst: 1000 }, address: { rate: 1000, burst: 1000 }, ...classes },
    clients: new Map(clients),
    leaseFraction,
    leaseTtlMs: 1000,
    auditWindowSeconds: 60,
  };
}

function limiter(s: RateLimitSettings, o: { store?: BucketStore; limited?: string[]; log?: typeof log } = {}): RateLimiter {
  return new RateLimiter({ store: o.store ?? store, audit: wired.audit, clock: { now: () => new Date() }, log: o.log ?? log, onLimited: (route, cls) => o.limited?.push(`${route}/${cls}`), settings: s });
}

/** Admits once: true when admitted, false when refused with 429 (anything else fails the test). */
async function admitted(l: RateLimiter, who: ClientSubject, cost = 1): Promise<boolean> {
  try {
    await l.admitClient(who, 'decision', cost);
    return true;
  } catch (err) {
    if (err instanceof RateLimitedError) return false;
    throw err;
  }
}

const job = (id: string, clientId?: string): ClientSubject => ({ via: 'client', principalId: id, clientId });

describe('the shared bucket (SQL)', () => {
  it('grants whole tokens up to what is wanted, none unless what is needed is there, and refills at the rate', async () => {
    const slow = { rate: 1, burst: 10 };
    expect(await store.lease('t:sql', slow, 4, 1)).toMatchObject({ granted: 4 });
    const a = await store.lease('t:sql', slow, 10, 7);
    // 6 and a few milliseconds' worth of refill: fewer than 7.
    expect(a.granted).toBe(0);
    expect(a.tokens).toBeGreaterThanOrEqual(6);
    expect(a.tokens).toBeLessThan(6.5);
    expect(await store.lease('t:sql', slow, 10, 5)).toMatchObject({ granted: 6 });
    expect(await store.lease('t:sql', slow, 1, 1)).toMatchObject({ granted: 0 });
    // A second later (the database's clock) a token is back.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await store.lease('t:sql', slow, 5, 1)).toMatchObject({ granted: 1 });
  });

  it('hands out no more than the burst plus the rate times the time elapsed, leased from two pools at once', async () => {
    const limit = { rate: 200, burst: 50 };
    const other = createBucketStore(db.sql);
    const started = performance.now();
    let total = 0;
    const leases = Array.from({ length: 40 }, (_, i) => (i % 2 ? other : store).lease('t:concurrent', limit, 7, 1).then((r) => (total += r.granted)));
    await Promise.all(leases);
    const elapsed = (performance.now() - started) / 1000;
    expect(total).toBeGreaterThanOrEqual(50);
    expect(total).toBeLessThanOrEqual(50 + 200 * elapsed + 1);
  });
});

describe('the limiter', () => {
  it('two replicas share one quota: the combined rate stays within the limit plus the leases held out', async () => {
    const s = settings({ service: { rate: 100, burst: 20 } });
    const replicas = [limiter(s), limiter(s)];
    const who = job('shared-client');
    let ok = 0;
    let refused = 0;
    const started = performance.now();
    // Four callers on each replica for a second and a half.
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        while (performance.now() - started < 1500) {
          if (await admitted(replicas[i % 2]!, who)) ok++;
          else {
            refused++;
            await new Promise((r) => setTimeout(r, 2));
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const allowed = 20 + 100 * elapsed;
    expect(refused).toBeGreaterThan(0);
    // Over: at most one lease (10 tokens) per replica outstanding; under: a tenth at most.
    expect(ok).toBeLessThanOrEqual(allowed + 2 * 10);
    expect(ok).toBeGreaterThanOrEqual(allowed * 0.9);
    // Most requests never reached the database: a lease per ten at the most.
    expect(replicas[0]!.leases + replicas[1]!.leases).toBeLessThan((ok + refused) / 5);
  });

  it("a client's own limit (by client id or principal id) replaces its class's; other clients keep the class's", async () => {
    const s = settings({ service: { rate: 1, burst: 3 } }, [['big-client', { rate: 1, burst: 40 }]]);
    const l = limiter(s);
    const results = { big: 0, byId: 0, small: 0 };
    for (let i = 0; i < 40; i++) if (await admitted(l, job('p-big', 'big-client'))) results.big++;
    for (let i = 0; i < 10; i++) if (await admitted(l, job('p-small', 'small-client'))) results.small++;
    expect(results.big).toBe(40);
    expect(results.small).toBeGreaterThanOrEqual(3);
    expect(results.small).toBeLessThan(10);
    const byPrincipal = limiter(settings({ service: { rate: 1, burst: 3 } }, [['p-own', { rate: 1, burst: 20 }]]));
    for (let i = 0; i < 20; i++) if (await admitted(byPrincipal, job('p-own', 'whatever'))) results.byId++;
    expect(results.byId).toBe(20);
    // The refusal names the policy that refused: the class's, or the client's own.
    const err = await Promise.resolve()
      .then(() => l.admitClient(job('p-small', 'small-client'), 'decision', 1))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).headers).toEqual({ 'RateLimit-Policy': '"service";q=1;w=1', RateLimit: `"service";r=0;t=${(err as RateLimitedError).retryAfterSeconds}` });
  });

  it('a batch costs one token per decision: one too large is refused while a single one still goes through', async () => {
    const l = limiter(settings({ service: { rate: 1, burst: 10 } }));
    const who = job('p-batch');
    expect(await admitted(l, who, 6)).toBe(true);
    expect(await admitted(l, who, 6)).toBe(false);
    expect(await admitted(l, who, 1)).toBe(true);
  });

  it('without the database it limits in this process alone (it neither refuses everything nor lets everything through)', async () => {
    const down: BucketStore = {
      lease: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })),
      prune: async () => 0,
    };
    const warnings: unknown[] = [];
    const l = limiter(settings({ service: { rate: 1, burst: 5 } }), { store: down, log: { ...log, warn: (o: unknown) => warnings.push(o) } as typeof log });
    let ok = 0;
    for (let i = 0; i < 20; i++) if (await admitted(l, job('p-offline'))) ok++;
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(6);
    expect(warnings.length).toBe(1);
  });

  it('throttling is counted per route and class, and audited once per client per window with the count', async () => {
    const limited: string[] = [];
    const l = limiter(settings({ service: { rate: 1, burst: 2 } }), { limited });
    const who = job('0198c0de-0000-7000-8000-00000000abcd');
    let refused = 0;
    for (let i = 0; i < 25; i++) if (!(await admitted(l, who))) refused++;
    expect(refused).toBeGreaterThanOrEqual(20);
    expect(limited).toEqual(Array(refused).fill('decision/service'));
    await l.flush();
    const events = (await wired.app.audit.recent({ type: 'ratelimit.throttled' })).filter((e) => e.actor_id === who.principalId);
    expect(events).toHaveLength(1);
    expect(events[0]!.outcome).toBe('failure');
    expect(events[0]!.details).toMatchObject({ limited: 'client', class: 'service', refused, routes: ['decision'] });
    // Nothing more to write until the next refusal.
    await l.flush();
    expect((await wired.app.audit.recent({ type: 'ratelimit.throttled' })).filter((e) => e.actor_id === who.principalId)).toHaveLength(1);
  });
});
