/**
 * Connection budgeting (src/db/connectionBudget.ts): the arithmetic, term by
 * term; the message's suggestions, each checked to be the limit it claims;
 * and, against the real embedded PostgreSQL and its max_connections, a server
 * process that refuses to start one replica over budget and starts at the
 * budget's edge.
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { checkConnectionBudget, connectionBudget, connectionPlan, overBudgetMessage, serverLimits, type ConnectionPlan, type ServerLimits } from '../../src/db/connectionBudget.ts';
import { openDatabase } from '../../src/db/open.ts';
import { ConfigError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { freePort } from '../support/net.ts';
import { TEST_KEY } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startServer } from '../support/servers.ts';

const limits: ServerLimits = { maxConnections: 100, superuserReservedConnections: 3, reservedConnections: 2 };
const plan: ConnectionPlan = { replicas: 3, workers: 1, poolMax: 10, monitoring: true, pooler: false };

describe('the arithmetic', () => {
  it('counts pool, owner, both listeners and the monitoring lock per process, and leaves the reserved slots out', () => {
    const b = connectionBudget(plan, limits);
    expect(b.perProcess).toEqual({ pool: 10, owner: 2, listeners: 2, lock: 1, total: 15 });
    expect(b.primary).toBe(0);
    expect(b.perReplica).toBe(15);
    expect(b.needed).toBe(45);
    expect(b.available).toBe(95);
    expect(b.fits).toBe(true);
  });

  it('without detection there is no lock connection', () => {
    expect(connectionBudget({ ...plan, monitoring: false }, limits).perProcess.total).toBe(14);
  });

  it('several workers per replica add the cluster primary (its pool and owner pool) beside them', () => {
    const b = connectionBudget({ ...plan, workers: 4 }, limits);
    expect(b.primary).toBe(12);
    expect(b.perReplica).toBe(12 + 4 * 15);
    expect(b.needed).toBe(3 * 72);
  });

  it('behind a transaction pooler only the direct connections count', () => {
    const b = connectionBudget({ ...plan, pooler: true, workers: 2 }, limits);
    expect(b.perProcess).toEqual({ pool: 0, owner: 2, listeners: 2, lock: 1, total: 5 });
    expect(b.primary).toBe(2);
    expect(b.needed).toBe(3 * (2 + 2 * 5));
  });

  it('fits up to the last available connection, and not one past it', () => {
    // 95 available: 6 replicas × 15 = 90 fit; with pool 11, 6 × 16 = 96 do not.
    expect(connectionBudget({ ...plan, replicas: 6 }, limits).fits).toBe(true);
    expect(connectionBudget({ ...plan, replicas: 6, poolMax: 11 }, limits).fits).toBe(false);
    expect(connectionBudget({ ...plan, replicas: 19, poolMax: 1, monitoring: false }, { ...limits, maxConnections: 5 + 19 * 5 }).fits).toBe(true);
  });
});

describe('the refusal message', () => {
  it('says the numbers and what to change', () => {
    const over = { ...plan, replicas: 8 };
    const message = overBudgetMessage(over, limits, connectionBudget(over, limits));
    expect(message).toBe(
      'Connection budget exceeded: 8 replicas (CUSTOS_REPLICAS) × 15 (pool 10, owner 2, listeners 2, monitoring lock 1) = 120 connections to PostgreSQL, ' +
        'but it accepts 95 (max_connections 100 − superuser_reserved_connections 3 − reserved_connections 2). ' +
        "To fit: lower CUSTOS_DB_POOL_MAX to 6 or less; or lower CUSTOS_REPLICAS (and the autoscaler's maxReplicas) to 6 or less; or raise max_connections to 125 or more; " +
        'or put PgBouncer in front of the pool (CUSTOS_DB_POOLER=transaction, docs/kubernetes.md).',
    );
  });

  it('docs/kubernetes.md quotes it as it is for its worked example (21 replicas, pool 20, max_connections 300)', () => {
    const doc = readFileSync(new URL('../../docs/kubernetes.md', import.meta.url), 'utf8');
    const quoted = /```text\n(Connection budget exceeded: .*)\n```/.exec(doc)?.[1];
    const p = { replicas: 21, workers: 1, poolMax: 20, monitoring: true, pooler: false };
    const l = { maxConnections: 300, superuserReservedConnections: 3, reservedConnections: 0 };
    expect(quoted).toBe(overBudgetMessage(p, l, connectionBudget(p, l)));
  });

  it('names the primary and the workers when there are several', () => {
    const over = { ...plan, workers: 2, replicas: 4 };
    expect(overBudgetMessage(over, limits, connectionBudget(over, limits))).toMatch(/^Connection budget exceeded: 4 replicas \(CUSTOS_REPLICAS\) × \(primary 12 \+ 2 workers × 15 \(pool 10, owner 2, listeners 2, monitoring lock 1\)\) = 168 connections.*run one worker per replica \(CUSTOS_WORKERS=1\)/);
  });

  it('every limit it suggests fits, and one more does not', () => {
    fc.assert(
      fc.property(
        fc.record({ replicas: fc.integer({ min: 1, max: 60 }), workers: fc.integer({ min: 1, max: 8 }), poolMax: fc.integer({ min: 1, max: 200 }), monitoring: fc.boolean(), pooler: fc.boolean() }),
        fc.record({ maxConnections: fc.integer({ min: 10, max: 2000 }), superuserReservedConnections: fc.integer({ min: 0, max: 5 }), reservedConnections: fc.integer({ min: 0, max: 5 }) }),
        (p, l) => {
          const b = connectionBudget(p, l);
          fc.pre(!b.fits);
          const m = overBudgetMessage(p, l, b);
          const pool = /CUSTOS_DB_POOL_MAX to (\d+)/.exec(m);
          if (pool) {
            expect(connectionBudget({ ...p, poolMax: Number(pool[1]) }, l).fits).toBe(true);
            expect(connectionBudget({ ...p, poolMax: Number(pool[1]) + 1 }, l).fits).toBe(false);
          } else if (!p.pooler) expect(connectionBudget({ ...p, poolMax: 1 }, l).fits).toBe(false);
          const replicas = /CUSTOS_REPLICAS \(and the autoscaler's maxReplicas\) to (\d+)/.exec(m);
          if (replicas) {
            expect(connectionBudget({ ...p, replicas: Number(replicas[1]) }, l).fits).toBe(true);
            expect(connectionBudget({ ...p, replicas: Number(replicas[1]) + 1 }, l).fits).toBe(false);
          } else expect(connectionBudget({ ...p, replicas: 1 }, l).fits).toBe(false);
          const max = Number(/raise max_connections to (\d+)/.exec(m)![1]);
          expect(connectionBudget(p, { ...l, maxConnections: max }).fits).toBe(true);
          expect(connectionBudget(p, { ...l, maxConnections: max - 1 }).fits).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('against the embedded PostgreSQL', () => {
  let db: TestDatabase;
  let server: ServerLimits;
  beforeAll(async () => {
    db = await createTestDatabase();
    server = await serverLimits(db.sql);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('reads max_connections and the reserved slots from the server', async () => {
    const [r] = await db.sql`SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS su`;
    expect(server.maxConnections).toBe(r!.max);
    expect(server.superuserReservedConnections).toBe(r!.su);
    // The embedded server is started with max_connections=200 (src/db/embedded.ts).
    expect(server.maxConnections).toBe(200);
  });

  /** What the server takes from Custos's roles. */
  const available = () => server.maxConnections - server.superuserReservedConnections - server.reservedConnections;
  /** The most replicas of one process each (pool 10, detection on) it takes. */
  const edge = () => Math.floor(available() / 15);

  it('checks the configured plan: at the edge it passes, one replica more is refused with the numbers', async () => {
    const config = (replicas: number) => loadConfig({ DATABASE_URL: db.url, CUSTOS_ENCRYPTION_KEY: TEST_KEY.toString('base64'), CUSTOS_WORKERS: '1', CUSTOS_REPLICAS: String(replicas) });
    const ok = await checkConnectionBudget(db.sql, connectionPlan(config(edge())));
    expect(ok.needed).toBe(edge() * 15);
    expect(ok.fits).toBe(true);
    const refused = checkConnectionBudget(db.sql, connectionPlan(config(edge() + 1)));
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toThrow(`Connection budget exceeded: ${edge() + 1} replicas (CUSTOS_REPLICAS) × 15 (pool 10, owner 2, listeners 2, monitoring lock 1) = ${(edge() + 1) * 15} connections to PostgreSQL, but it accepts ${available()} (max_connections 200 `);
  });

  it('a server process refuses to start over budget, saying why, and starts at the edge saying what it counted', async () => {
    const env = (replicas: number) => ({ CUSTOS_WORKERS: '1', CUSTOS_REPLICAS: String(replicas), CUSTOS_MONITORING: 'true' });
    const refused = await startServer(db, { env: env(edge() + 1), ready: 'custos is listening' }).then(
      (s) => {
        s.kill();
        return 'started';
      },
      (err: Error) => err.message,
    );
    expect(refused).toContain('start-up failed');
    expect(refused).toContain(`Connection budget exceeded: ${edge() + 1} replicas (CUSTOS_REPLICAS)`);
    expect(refused).toContain('raise max_connections to');
    const s = await startServer(db, { env: env(edge()), ready: 'custos is listening' });
    try {
      expect(s.out()).toContain(`connection budget: ${edge() * 15} of ${available()} connections`);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});

describe('the embedded PostgreSQL a server starts', () => {
  it('is given room for the configured workers (so `npm start` on a many-core machine passes its own check)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-budget-'));
    await chmod(dir, 0o711);
    const config = loadConfig({ CUSTOS_DATA_DIR: path.join(dir, 'data'), CUSTOS_EMBEDDED_PG_PORT: String(await freePort()), CUSTOS_WORKERS: '16' });
    const db = await openDatabase(config, createLogger({ level: 'silent' }));
    try {
      // 16 workers × 15 + the primary's 12 = 252, + 3 reserved for superusers + 20 to spare.
      const b = await checkConnectionBudget(db.owner, connectionPlan(config));
      expect(b.needed).toBe(252);
      expect(b.limits.maxConnections).toBe(275);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
