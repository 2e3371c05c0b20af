/**
 * Fail closed on the database: while PostgreSQL is unreachable the service
 * answers 503 (never an allow, never a crash), and /readyz says not ready.
 * It recovers by itself when the database returns.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { createRequestListener } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';
import { wire } from '../../src/wire.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_KEY } from '../support/app.ts';

let db: TestDatabase;
let sql: Sql;
let server: Server;
let url: string;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = createSql({ url: db.url, max: 2 });
  const config = loadConfig({ CUSTOS_ENV: 'test', CUSTOS_LOG_LEVEL: 'silent', CUSTOS_REQUEST_TIMEOUT_MS: '1500' });
  const wired = wire({ config, sql, log: createLogger({ level: 'silent' }), encryptionKey: TEST_KEY, clock: new ManualClock() });
  server = createServer(createRequestListener(wired.app)).listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await sql.end({ timeout: 1 });
  await db.drop();
});

/** Makes the database refuse this test database's connections, then lets them back. */
async function withDatabaseAway(fn: () => Promise<void>): Promise<void> {
  await db.admin.unsafe(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
  await db.admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${db.name}`;
  try {
    await fn();
  } finally {
    await db.admin.unsafe(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
  }
}

describe('database unavailable', () => {
  it('answers 503 problem documents, stays up, and recovers', async () => {
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await withDatabaseAway(async () => {
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const ready = await fetch(`${url}/readyz`);
        expect(ready.status).toBe(503);
        const login = await fetch(`${url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: 'whatever whatever' }),
        });
        expect(login.status).toBe(503);
        expect(login.headers.get('content-type')).toMatch(/application\/problem\+json/);
        const body = (await login.json()) as { code: string };
        expect(body.code).toBe('unavailable');
        expect(JSON.stringify(body)).not.toMatch(/postgres|connect|ECONN|database .* does not allow/i);
        // Answered within the deadline, never hung.
        expect(Date.now() - t0).toBeLessThan(5000);
      }
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    });
    // Back without a restart.
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      status = (await fetch(`${url}/readyz`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });
});
