/**
 * The server process (`npm start`): configuration, the database, wiring
 * (wire.ts), then HTTP until SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from './config.ts';
import { resolveEncryptionKey } from './crypto/encryptionKey.ts';
import { openDatabase } from './db/open.ts';
import { CustosError } from './errors.ts';
import { createRequestListener } from './http/server.ts';
import { ensurePartitions } from './audit/postgres/partitions.ts';
import { createLogger } from './logger.ts';

import { prepareDatabase, wire, withEmbeddedDefaults } from './wire.ts';

async function start(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`custos: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger({ level: config.logLevel });
  const key = await resolveEncryptionKey(config.encryptionKey, config.dataDir);
  if (key.generatedFile) log.warn({ file: key.generatedFile }, 'generated an encryption key for secrets at rest (development only); set CUSTOS_ENCRYPTION_KEY in production');
  const db = await openDatabase(config, log);
  config = withEmbeddedDefaults(config, db.embedded);
  if (!config.audit.anchorFile) log.warn('no anchor file (CUSTOS_AUDIT_ANCHOR_FILE): checkpoints are anchored to the log stream only');
  const wired = wire({ config, sql: db.sql, log, encryptionKey: key.key });
  try {
    await prepareDatabase(db.owner, wired, log, { autoBootstrap: config.autoBootstrap });
  } catch (err) {
    log.fatal({ err: err instanceof CustosError ? { errorCode: err.code, message: err.message } : err }, 'start-up failed');
    await db.close().catch(() => {});
    process.exit(1);
  }

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
  log.info({ url: config.publicUrl, port: typeof addr === 'object' && addr ? addr.port : config.port, embeddedDatabase: db.embedded }, 'custos is listening');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceSeconds * 1000).unref();
    server.close(async () => {
      clearTimeout(force);
      clearInterval(reloadTimer);
      clearInterval(purgeTimer);
      clearInterval(partitionTimer);
      await wired.notifier.stop().catch(() => {});
      // A last signed checkpoint of every chain this process wrote.
      await wired.checkpointer.stop().catch(() => {});
      await wired.catalogSync.stop().catch(() => {});
      await db.close().catch((err: unknown) => log.error({ err }, 'closing the database failed'));
      log.info('stopped');
      // Logs are written asynchronously: let every line reach stdout, in order, before exiting.
      setTimeout(() => process.exit(0), 1000).unref();
      log.flush(() => process.exit(0));
    });
    server.closeIdleConnections();
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
