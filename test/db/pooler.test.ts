/**
 * Behind a transaction pooler (CUSTOS_DB_POOLER=transaction): the pool
 * prepares no statements and sends no role, and everything that keeps
 * session state (both change listeners, the monitoring lock) and the owner
 * go to DATABASE_DIRECT_URL. There is no PgBouncer binary here: the "pooler"
 * URL is the same server under another login, which is exactly what tells
 * the two apart in pg_stat_activity. Also the configuration refusals, and the
 * start-up check that the pool logs in as the application role.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';
import { createSql } from '../../src/db/client.ts';
import { openDatabase, type OpenDatabase } from '../../src/db/open.ts';
import { ConfigError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { DEFAULT_MONITORING_FILE, loadMonitoringPolicy } from '../../src/monitoring/policy.ts';
import { checkDatabaseFits, wire, type Wired } from '../../src/wire.ts';
import { TEST_KEY } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const log = createLogger({ level: 'silent' });
const key = TEST_KEY.toString('base64');

describe('configuration', () => {
  it('a transaction pooler needs a direct URL, from the variable or its file', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://a@pooler/db', CUSTOS_ENCRYPTION_KEY: key, CUSTOS_DB_POOLER: 'transaction' })).toThrow(
      /CUSTOS_DB_POOLER=transaction needs DATABASE_DIRECT_URL \(or DATABASE_DIRECT_URL_FILE\)/,
    );
    const c = loadConfig({ DATABASE_URL: 'postgres://a@pooler/db', CUSTOS_ENCRYPTION_KEY: key, CUSTOS_DB_POOLER: 'transaction', DATABASE_DIRECT_URL_FILE: '/run/secrets/direct' }, (p) =>
      p === '/run/secrets/direct' ? 'postgres://owner@db/db\n' : '',
    );
    expect(c.deployment).toEqual({ migrateAtStart: true, replicas: 1, pooler: 'transaction', directUrl: 'postgres://owner@db/db' });
  });

  it('refuses a direct URL without a pooler, both forms at once, and an unreadable file', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://a@db/db', CUSTOS_ENCRYPTION_KEY: key, DATABASE_DIRECT_URL: 'postgres://o@db/db' })).toThrow(/used only with CUSTOS_DB_POOLER=transaction/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://a@p/db', CUSTOS_ENCRYPTION_KEY: key, CUSTOS_DB_POOLER: 'transaction', DATABASE_DIRECT_URL: 'x', DATABASE_DIRECT_URL_FILE: 'y' })).toThrow(/not both/);
    expect(() =>
      loadConfig({ DATABASE_URL: 'postgres://a@p/db', CUSTOS_ENCRYPTION_KEY: key, CUSTOS_DB_POOLER: 'transaction', DATABASE_DIRECT_URL_FILE: '/nope' }, () => {
        throw new Error('ENOENT');
      }),
    ).toThrow('DATABASE_DIRECT_URL_FILE=/nope cannot be read.');
    expect(() => loadConfig({ CUSTOS_DB_POOLER: 'transaction', DATABASE_DIRECT_URL: 'postgres://o@db/db' })).toThrow(/needs DATABASE_URL/);
  });
});

describe('wiring behind a transaction pooler', () => {
  let db: TestDatabase;
  /** The pool's login: a role of its own (the application role's rights), so its connections are told apart from the direct ones. */
  const poolRole = `custos_pool_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  let config: Config;
  let open: OpenDatabase;
  let wired: Wired;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Generated identifier and password, not input.
    await db.admin.unsafe(`CREATE ROLE ${poolRole} LOGIN PASSWORD '${password}' IN ROLE custos_app`);
    const u = new URL(db.url);
    u.username = poolRole;
    u.password = password;
    config = loadConfig({
      DATABASE_URL: u.toString(),
      DATABASE_DIRECT_URL: db.url,
      CUSTOS_DB_POOLER: 'transaction',
      CUSTOS_DB_ROLE: poolRole,
      CUSTOS_ENCRYPTION_KEY: key,
      CUSTOS_LOG_LEVEL: 'silent',
    });
    open = await openDatabase(config, log);
    wired = wire({ config, sql: open.sql, session: open.session, log, encryptionKey: TEST_KEY, monitoring: loadMonitoringPolicy(DEFAULT_MONITORING_FILE) });
  });
  afterAll(async () => {
    await wired?.alertFeed.close();
    await wired?.catalogSync.stop();
    await open?.close();
    await db.admin.unsafe(`DROP ROLE IF EXISTS ${poolRole}`);
    await db.drop();
  });

  /** Who is connected to this test's database, by application name. */
  const sessions = async () =>
    (await db.sql<{ usename: string; application_name: string }[]>`
      SELECT usename, application_name FROM pg_stat_activity WHERE datname = ${db.name} AND pid <> pg_backend_pid() AND application_name <> 'custos-test-superuser'`).map((r) => ({ ...r }));

  it('the pool prepares no statements and sends no role; the session template keeps the role, on the direct URL', async () => {
    expect((open.sql.options as unknown as { prepare: boolean }).prepare).toBe(false);
    expect((open.sql.options as unknown as { connection: Record<string, unknown> }).connection.role).toBeUndefined();
    expect((open.session.options as unknown as { connection: Record<string, unknown> }).connection.role).toBe(poolRole);
    expect(open.session).not.toBe(open.sql);
    // Statements through the pool leave nothing prepared on its connection; a default client's do.
    await open.sql`SELECT ${1}::int AS one`;
    await open.sql.begin(async (tx) => {
      await tx`SELECT ${2}::int AS two`;
      expect((await tx`SELECT count(*)::int AS n FROM pg_prepared_statements`)[0]!.n).toBe(0);
    });
    const prepared = createSql({ url: db.url, max: 1 });
    try {
      await prepared`SELECT ${1}::int AS one`;
      expect((await prepared`SELECT count(*)::int AS n FROM pg_prepared_statements`)[0]!.n).toBeGreaterThan(0);
    } finally {
      await prepared.end();
    }
  });

  it('both change listeners and the monitoring lock connect directly; queries go through the pool', async () => {
    await wired.catalogSync.start();
    await wired.alertFeed.start();
    const lock = wired.monitoring.store.lock();
    expect(await lock.hold()).toBe('acquired');
    const [who] = await open.sql`SELECT current_user AS name, session_user AS login`;
    expect(who).toEqual({ name: poolRole, login: poolRole });
    const s = await sessions();
    const listeners = s.filter((x) => x.application_name.endsWith(':listen'));
    expect(listeners).toHaveLength(2);
    // The direct URL's login (the owner), not the pool's.
    const direct = new URL(db.url).username;
    expect(new Set(listeners.map((x) => x.usename))).toEqual(new Set([direct]));
    expect(s.filter((x) => x.application_name === 'custos-monitoring').map((x) => x.usename)).toEqual([direct]);
    const pooled = s.filter((x) => x.application_name === `custos/${process.pid}`);
    expect(pooled.length).toBeGreaterThan(0);
    expect(new Set(pooled.map((x) => x.usename))).toEqual(new Set([poolRole]));
    // The listener really hears what is sent through the pool: the barrier (pg_notify on the pool) comes back
    // on the direct connection, or memory would stop being trusted.
    expect(wired.facts.isTrusted).toBe(true);
    await wired.catalog.createPrincipal({ kind: 'user', name: 'through-the-pool' });
    await wired.catalogSync.sync();
    expect(wired.facts.isTrusted).toBe(true);
    await lock.release();
  });

  it('the owner (migrations, partitions) connects directly too', async () => {
    const [r] = await open.owner`SELECT session_user AS login`;
    expect(r!.login).toBe(new URL(db.url).username);
  });

  it('start-up passes when the pool logs in as the application role', async () => {
    await expect(checkDatabaseFits(open, config, log)).resolves.toBeUndefined();
  });

  it('start-up refuses a pool that logs in as anyone else (the logs would lose their append-only guard)', async () => {
    const asOwner = loadConfig({ DATABASE_URL: db.url, DATABASE_DIRECT_URL: db.url, CUSTOS_DB_POOLER: 'transaction', CUSTOS_ENCRYPTION_KEY: key, CUSTOS_LOG_LEVEL: 'silent' });
    const other = await openDatabase(asOwner, log);
    try {
      const refused = checkDatabaseFits(other, asOwner, log);
      await expect(refused).rejects.toThrow(ConfigError);
      await expect(refused).rejects.toThrow(
        `Behind a transaction pooler (CUSTOS_DB_POOLER=transaction) the pool must log in as the application role custos_app (CUSTOS_DB_ROLE), but DATABASE_URL logs in as ${new URL(db.url).username}.`,
      );
    } finally {
      await other.close();
    }
  });
});
