/**
 * The server process (`npm start`): configuration, the database, wiring
 * (wire.ts), then HTTP until SIGTERM.
 *
 * With more than one worker (CUSTOS_WORKERS: by default one per core, less
 * one when the database runs on this machine) this
 * process is the cluster's primary: it opens the database (starting the
 * embedded one if need be), migrates and bootstraps once, then forks the
 * workers, which share the port (node's cluster hands connections out in
 * turn). Each worker is a replica in all but address: its own pool, facts in
 * memory, change listener and decision log chain. The primary answers no
 * request; on SIGTERM it stops the workers (each drains and signs a last
 * checkpoint) and then the database.
 */
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { loadConfig, type Config } from './config.ts';
import { resolveEncryptionKey } from './crypto/encryptionKey.ts';
import { openDatabase, type OpenDatabase } from './db/open.ts';
import { CustosError } from './errors.ts';
import { createRequestListener } from './http/server.ts';
import { ensurePartitions } from './audit/postgres/partitions.ts';
import { servingFlagsMissing, workerExecArgv } from './heapSettings.ts';
import { createLogger, type Logger } from './logger.ts';
import { serveClusterMetrics } from './metrics/cluster.ts';

import { checkDatabaseFits, monitoringPolicyOf, prepareDatabase, prepareWorker, wire, withEmbeddedDefaults, type Wired } from './wire.ts';
import type { MonitoringPolicy } from './monitoring/policy.ts';

async function start(): Promise<void> {
  // This process's heap settings, from here on (workers get them on their command line: runPrimary).
  const heapFlags = servingFlagsMissing(process.execArgv);
  if (heapFlags.length) v8.setFlagsFromString(heapFlags.join(' '));
  let config: Config;
  let monitoring: MonitoringPolicy | undefined;
  try {
    config = loadConfig();
    // A bad monitoring policy stops start-up here, with the field it is about.
    monitoring = monitoringPolicyOf(config);
  } catch (err) {
    process.stderr.write(`custos: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: config.logLevel });
  if (cluster.isWorker) return runWorker(config, log.child({ worker: cluster.worker!.id }), monitoring);
  const key = await resolveEncryptionKey(config.encryptionKey, config.dataDir);
  if (key.generatedFile) log.warn({ file: key.generatedFile }, 'generated an encryption key for secrets at rest (development only); set CUSTOS_ENCRYPTION_KEY in production');
  const db = await openDatabase(config, log);
  config = withEmbeddedDefaults(config, db.embedded);
  if (!config.audit.anchorFile) log.warn('no anchor file (CUSTOS_AUDIT_ANCHOR_FILE): checkpoints are anchored to the log stream only');
  const wired = wire({ config, sql: db.sql, session: db.session, log, encryptionKey: key.key, monitoring });
  try {
    // Replicas × connections must fit the server; behind PgBouncer the pool must log in as the application role.
    await checkDatabaseFits(db, config, log);
    await prepareDatabase(db.owner, wired, log, { autoBootstrap: config.autoBootstrap, migrate: config.deployment.migrateAtStart });
  } catch (err) {
    log.fatal({ err: err instanceof CustosError ? { errorCode: err.code, message: err.message } : err }, 'start-up failed');
    await db.close().catch(() => {});
    process.exit(1);
  }
  if (config.workers > 1) return runPrimary(config, log, db);
  await serve(config, log, db, wired, () => log.info('stopped'));
}

/**
 * One serving process: the change listener and the facts in memory, the
 * background duties, HTTP; SIGTERM drains it. `stopped` runs last.
 */
async function serve(config: Config, log: Logger, db: OpenDatabase, wired: Wired, stopped: () => void): Promise<void> {
  await wired.catalogSync.start();
  log.info({ ...wired.facts.size }, 'catalog facts in memory');
  // Safety net for a missed notification: every few seconds a cheap check of the
  // latest version and the role graph (recompiling only when either changed).
  const reloadTimer = setInterval(() => void wired.policy.reload(), config.policyReloadSeconds * 1000).unref();
  // Spent challenges, expired tokens and idle throttle counters are deleted once a minute (expiry is checked at use regardless).
  const purgeTimer = setInterval(() => {
    wired.auth.store.purgeExpired(wired.auth.clock.now(), config.lockout.windowSeconds).catch((err: unknown) => log.warn({ err }, 'purge of expired rows failed'));
  }, 60_000).unref();
  wired.notifier.start();
  wired.checkpointer.start();
  wired.incidentReminders.start();
  // Detection over the committed records (one replica at a time consumes; see docs/monitoring.md).
  wired.monitoring.pipeline?.start();
  // Rate limits: throttling is audited once per client or address per window.
  wired.rateLimits?.start();
  // Log partitions for the coming months, made again once a day.
  const partitionTimer = setInterval(() => {
    ensurePartitions(db.owner, 3).catch((err: unknown) => log.warn({ err }, 'creating log partitions failed'));
  }, 86_400_000).unref();
  const app = createRequestListener(wired.app);
  const server: Server = config.tls
    ? createHttpsServer({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }, app)
    : createHttpServer(app);
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const addr = server.address();
  log.info({ url: config.publicUrl, port: typeof addr === 'object' && addr ? addr.port : config.port, embeddedDatabase: db.embedded, pid: process.pid }, 'custos is listening');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceSeconds * 1000).unref();
    // Alert streams never finish by themselves: end them (each says so to its client) so the server can close.
    void wired.alertFeed.close().catch((err: unknown) => log.warn({ err }, 'closing the alert feed failed'));
    server.close(async () => {
      clearTimeout(force);
      clearInterval(reloadTimer);
      clearInterval(purgeTimer);
      clearInterval(partitionTimer);
      await wired.incidentReminders.stop().catch(() => {});
      // Its lock goes with it: another replica takes over detection at once.
      await wired.monitoring.pipeline?.stop().catch(() => {});
      await wired.notifier.stop().catch(() => {});
      // The throttling counted since the last window, audited before the logs' last checkpoint.
      await wired.rateLimits?.close().catch(() => {});
      // A last signed checkpoint of every chain this process wrote.
      await wired.checkpointer.stop().catch(() => {});
      await wired.catalogSync.stop().catch(() => {});
      await db.close().catch((err: unknown) => log.error({ err }, 'closing the database failed'));
      stopped();
      // Logs are written asynchronously: let every line reach stdout, in order, before exiting.
      setTimeout(() => process.exit(0), 1000).unref();
      log.flush(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/**
 * A cluster worker: the primary prepared the database; connect to it (the
 * configured one, or the embedded one the primary started, through its
 * password file: no secret passes through the environment) and serve.
 */
async function runWorker(config: Config, log: Logger, monitoring: MonitoringPolicy | undefined): Promise<void> {
  const key = await resolveEncryptionKey(config.encryptionKey, config.dataDir);
  const db = await openDatabase(config, log, { mustBeRunning: true });
  config = withEmbeddedDefaults(config, db.embedded);
  // A scrape on this worker reports every worker's metrics, merged by the primary.
  const wired = wire({ config, sql: db.sql, session: db.session, log, encryptionKey: key.key, metrics: { clusterWorker: true }, monitoring });
  await prepareWorker(wired);
  await serve(config, log, db, wired, () => log.info('worker stopped'));
}

/**
 * The primary: forks the workers, replaces one that dies (unless they keep
 * dying at start, which ends the server), and on SIGTERM stops them all
 * before the database.
 */
async function runPrimary(config: Config, log: Logger, db: OpenDatabase): Promise<void> {
  let stopping = false;
  let quickDeaths = 0;
  /** Live workers and when each started. */
  const startedAt = new Map<Worker, number>();
  // Workers start with the serving heap settings (src/heapSettings.ts) unless the operator chose them.
  cluster.setupPrimary({ execArgv: workerExecArgv() });
  const fork = () => startedAt.set(cluster.fork(), Date.now());
  // Workers ask here for every worker's metrics when scraped (src/metrics/cluster.ts).
  serveClusterMetrics((err) => log.warn({ err }, 'gathering the workers\' metrics failed'));
  const listening = new Set<number>();
  cluster.on('listening', (w) => {
    listening.add(w.id);
    if (listening.size === config.workers) log.info({ workers: config.workers, pids: [...startedAt.keys()].map((x) => x.process.pid) }, 'all workers are listening');
  });
  cluster.on('exit', (w, code, signal) => {
    const lived = Date.now() - (startedAt.get(w) ?? 0);
    startedAt.delete(w);
    if (stopping) {
      if (!startedAt.size) void finish();
      return;
    }
    log.error({ worker: w.id, exitCode: code, signal }, 'a worker exited; starting another');
    quickDeaths = lived < 10_000 ? quickDeaths + 1 : 0;
    if (quickDeaths >= 3 * config.workers) {
      log.fatal('workers keep exiting at start; stopping');
      stopping = true;
      for (const other of startedAt.keys()) other.process.kill('SIGTERM');
      if (!startedAt.size) void finish(1);
      return;
    }
    fork();
  });
  for (let i = 0; i < config.workers; i++) fork();

  let finishing = false;
  const finish = async (code = 0) => {
    if (finishing) return;
    finishing = true;
    await db.close().catch((err: unknown) => log.error({ err }, 'closing the database failed'));
    log.info('stopped');
    setTimeout(() => process.exit(code), 1000).unref();
    log.flush(() => process.exit(code));
  };
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: startedAt.size }, 'shutting down: no new connections, finishing in-flight requests');
    if (!startedAt.size) return void finish();
    for (const w of startedAt.keys()) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  start().catch((err: unknown) => {
    process.stderr.write(`custos: start-up failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
