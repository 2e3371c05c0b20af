/**
 * The hospital benchmark's referee, at the small size: the oracle
 * (bench/hospital/oracle.ts), Custos over real HTTP on a real PostgreSQL
 * loaded the way the benchmark loads it (bulk catalog, the policy as a
 * stored version), and a real Cerbos 0.55 server on the translated policy
 * must give the same answer to every request of the workload.
 *
 * It can fail: Cerbos with the denies bound to their own roles (the naive
 * translation; Cerbos lets an allow through one role win over a deny bound
 * to another) disagrees, and so does an oracle that forgets the vendors'
 * BAAs against Custos.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { createRequestListener } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';
import { wire } from '../../src/wire.ts';
import { checkAgreement, describeDisagreements, type Engines } from '../../bench/hospital/agreement.ts';
import { describeCaches, parseCacheStats } from '../../bench/hospital/caches.ts';
import { CERBOS_BINARY, startCerbos, type CerbosServer } from '../../bench/hospital/cerbos.ts';
import { loadHospital } from '../../bench/hospital/custos.ts';
import { buildWorld, SIZES, type World } from '../../bench/hospital/world.ts';
import { seedBenchWorld, type BenchWorld } from '../../bench/seed.ts';
import { TEST_KEY } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const world: World = buildWorld(SIZES.small);
/** Cerbos is an optional dependency (linux-x64 only): without it, only Custos is checked against the oracle. */
const hasCerbos = existsSync(CERBOS_BINARY);
let db: TestDatabase;
let seeded: BenchWorld;
let server: Server;
let custos: NonNullable<Engines['custos']>;
let cerbos: CerbosServer | undefined;
let naive: CerbosServer | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  // The benchmark's own set-up: a migrated database with an enforcement point's client credentials, then the hospital.
  seeded = await seedBenchWorld({ databaseUrl: db.url, key: TEST_KEY.toString('base64') });
  await loadHospital(db.url, world);
  // Custos on the real clock: the world's BAAs, DUAs and expert determinations are dated from today, as Cerbos's now() is.
  const config = loadConfig({ CUSTOS_ENV: 'test', CUSTOS_LOG_LEVEL: 'silent' });
  const wired = wire({ config, sql: db.appSql, log: createLogger({ level: 'silent' }), encryptionKey: TEST_KEY, clock: systemClock });
  const loaded = await wired.policy.reload();
  if (!loaded.ok) throw loaded.error;
  server = createServer(createRequestListener(wired.app)).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  custos = { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, headers: seeded.headers };
  if (hasCerbos) [cerbos, naive] = await Promise.all([startCerbos(world), startCerbos(world, { denies: 'own-role' })]);
}, 60_000);

afterAll(async () => {
  await Promise.all([cerbos?.stop(), naive?.stop()]);
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await seeded?.close();
  await db?.drop();
});

describe('hospital workload: oracle, Custos and Cerbos', () => {
  it('agree on every request', async () => {
    const report = await checkAgreement(world, { custos, cerbos: cerbos ? { cerbos: cerbos.base } : {} });
    expect(describeDisagreements(report)).toBe('');
    expect(report.agreement).toBe(1);
    expect(report.agreed).toEqual({ custos: world.requests.length, ...(cerbos ? { cerbos: world.requests.length } : {}) });
    // Not a vacuous agreement: the workload has allows, denies by column and other denies.
    expect(report.mix.allow).toBeGreaterThan(40);
    expect(report.mix.column_deny).toBeGreaterThan(5);
    expect(report.mix.deny).toBeGreaterThan(40);
  });

  it.skipIf(!hasCerbos)('catches a translation error: Cerbos denies bound to their own roles let another role’s allow win', async () => {
    const report = await checkAgreement(world, { cerbos: { naive: naive!.base } });
    expect(report.disagreements.length).toBeGreaterThan(0);
    // Every disagreement releases columns the hospital withholds, and withholds nothing it releases.
    for (const d of report.disagreements) {
      const expected = (d.expected as { withheld: string[] }).withheld;
      const actual = (d.actual as { withheld: string[] }).withheld;
      expect(actual.length).toBeLessThan(expected.length);
      expect(expected).toEqual(expect.arrayContaining(actual));
    }
  });

  it('catches a wrong answer on the Custos side: an oracle that forgets BAAs and HIPAA training disagrees with Custos', async () => {
    const careless: World = {
      ...world,
      vendor: new Map([...world.vendor].map(([id, v]) => [id, { ...v, baas: [] }])),
      principal: new Map([...world.principal].map(([id, p]) => [id, { ...p, hipaaTraining: true }])),
    };
    const report = await checkAgreement(careless, { custos });
    expect(report.disagreements.length).toBeGreaterThan(0);
    expect(report.agreed.custos).toBe(world.requests.length - report.disagreements.length);
  });
});

describe('cache statistics from the bench server’s stderr', () => {
  it('sums each cache over the worker processes, and says n/a for facts when the server reports nothing', () => {
    const stats = parseCacheStats('group commit: {"batches":3}\nfacts: {"hits":90,"misses":10,"fallbacks":2}\nfacts: {"hits":10,"misses":0,"fallbacks":1}\n');
    expect(stats).toEqual({ facts: { hits: 100, misses: 10, fallbacks: 3, hit_rate: 0.9091 } });
    expect(describeCaches(stats)).toEqual([['facts cache hit rate', '90.9 % (100 hits, 10 misses, 3 fallbacks)']]);
    expect(describeCaches(parseCacheStats('group commit: {"batches":3}\n'))).toEqual([['facts cache hit rate', 'n/a']]);
  });
});
