/**
 * Opens the database Custos runs on: DATABASE_URL when set, otherwise the
 * embedded PostgreSQL in the data folder (started here, or reused when a
 * running Custos already started it).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { createSql, type Sql } from './client.ts';
import { connectionBudget, connectionPlan, OWNER_POOL_MAX } from './connectionBudget.ts';

/** An open database. */
export interface OpenDatabase {
  /** The application's pool, acting as CUSTOS_DB_ROLE (append-only on the logs). */
  sql: Sql;
  /** A small pool as the connecting (owning) user: migrations, partitions, retention. */
  owner: Sql;
  /**
   * The settings session state is opened from (change listeners, the
   * monitoring lock: each copies them into a connection of its own): the pool
   * itself, or behind a transaction pooler a client on DATABASE_DIRECT_URL
   * that never queries.
   */
  session: Sql;
  embedded: boolean;
  /** Closes the pool and stops the embedded server if we started it. */
  close(): Promise<void>;
}

const DATABASE = 'custos';

async function ensureDatabase(adminUrl: string): Promise<void> {
  const admin = createSql({ url: adminUrl, max: 1 });
  try {
    const [exists] = await admin`SELECT 1 AS hit FROM pg_database WHERE datname = ${DATABASE}`;
    if (!exists) await admin.unsafe(`CREATE DATABASE ${DATABASE}`).catch((e: { code?: string }) => {
      if (e.code !== '42P04') throw e; // created concurrently
    });
  } finally {
    await admin.end();
  }
}

async function embeddedUrlIfRunning(config: Config): Promise<string | undefined> {
  let password: string;
  try {
    password = (await readFile(path.join(config.dataDir, 'pg-password'), 'utf8')).trim();
  } catch {
    return undefined;
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${config.embeddedPgPort}/postgres`;
  const probe = createSql({ url, max: 1 });
  try {
    await probe`SELECT 1`;
    return url;
  } catch {
    return undefined;
  } finally {
    await probe.end({ timeout: 1 });
  }
}

/** Connects to (and if needed starts) the configured database. */
export async function openDatabase(config: Config, log: Logger, options: { reuseRunning?: boolean; mustBeRunning?: boolean } = {}): Promise<OpenDatabase> {
  const pools = (url: string) => {
    const sql = createSql({ url, max: config.dbPoolMax, role: config.dbRole });
    return { sql, owner: createSql({ url, max: OWNER_POOL_MAX, applicationName: 'custos-owner' }), session: sql };
  };
  const end = (p: { sql: Sql; owner: Sql; session: Sql }, timeout: number) =>
    Promise.all([p.sql.end({ timeout }), p.owner.end({ timeout }), p.session === p.sql ? undefined : p.session.end({ timeout })]).then(() => {});
  if (config.databaseUrl && config.deployment.pooler === 'transaction') {
    const p = pooledThroughTransactionPooler(config.databaseUrl, config.deployment.directUrl!, config);
    return { ...p, embedded: false, close: () => end(p, 2) };
  }
  if (config.databaseUrl) {
    const p = pools(config.databaseUrl);
    return { ...p, embedded: false, close: () => end(p, 2) };
  }
  const running = options.reuseRunning || options.mustBeRunning ? await embeddedUrlIfRunning(config) : undefined;
  if (!running && options.mustBeRunning) throw new Error(`the embedded PostgreSQL of ${config.dataDir} is not running`);
  if (running) {
    await ensureDatabase(running);
    const p = pools(running.replace(/\/postgres$/, `/${DATABASE}`));
    return { ...p, embedded: true, close: () => end(p, 5) };
  }
  log.info({ dir: config.dataDir, port: config.embeddedPgPort }, 'starting embedded PostgreSQL');
  // Loaded only when used: an external database never loads the embedded package.
  const { startEmbeddedPostgres } = await import('./embedded.ts');
  const pg = await startEmbeddedPostgres({
    dir: config.dataDir,
    port: config.embeddedPgPort,
    // Room for every worker this machine runs (CUSTOS_WORKERS), so the budget checked at start holds.
    maxConnections: embeddedMaxConnections(config),
    onLog: (line) => log.debug({ pg: line }, 'postgres'),
  });
  await ensureDatabase(pg.adminUrl);
  const p = pools(pg.urlFor(DATABASE));
  return {
    ...p,
    embedded: true,
    async close() {
      await end(p, 5);
      await pg.stop();
    },
  };
}

/**
 * Behind a transaction-mode pooler (PgBouncer): the pool goes through it
 * without prepared statements and without a `role` startup parameter (which
 * PgBouncer refuses, and could not keep per transaction anyway): its login
 * must be the application role itself (checked at start, db/poolerRole.ts).
 * Migrations and partitions (the owner) and every connection that keeps
 * session state (LISTEN, the session advisory lock) go to PostgreSQL directly.
 */
function pooledThroughTransactionPooler(poolerUrl: string, directUrl: string, config: Config): { sql: Sql; owner: Sql; session: Sql } {
  return {
    sql: createSql({ url: poolerUrl, max: config.dbPoolMax, prepare: false }),
    owner: createSql({ url: directUrl, max: OWNER_POOL_MAX, applicationName: 'custos-owner' }),
    // Never queried: listeners and the lock copy its settings (direct address, owner's login, acting as the application role).
    session: createSql({ url: directUrl, max: 1, role: config.dbRole }),
  };
}

/** The embedded server's max_connections: 200, or more when the configured workers need it (with 20 to spare for the CLI and psql). */
function embeddedMaxConnections(config: Config): number {
  const needed = connectionBudget(connectionPlan(config), { maxConnections: 0, superuserReservedConnections: 0, reservedConnections: 0 }).needed;
  // superuser_reserved_connections (3) are not Custos's.
  return Math.max(200, needed + 3 + 20);
}
