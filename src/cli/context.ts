/**
 * What every CLI command needs: configuration, a quiet logger, an open
 * database (reusing a running embedded one) and wired services.
 */
import { loadConfig, type Config } from '../config.ts';
import { resolveEncryptionKey } from '../crypto/encryptionKey.ts';
import { openDatabase, type OpenDatabase } from '../db/open.ts';
import { createLogger, type Logger } from '../logger.ts';
import { wire, withEmbeddedDefaults, type Wired } from '../wire.ts';

/** An opened command context. */
export interface CliContext {
  db: OpenDatabase;
  config: Config;
  wired: Wired;
  log: Logger;
}

/** Runs `fn` with a context and always closes the database afterwards. */
export async function withContext<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  // Logs go to stderr so stdout stays clean for --json output.
  const log = createLogger({ level: process.env.CUSTOS_LOG_LEVEL ?? 'warn', destination: process.stderr });
  const key = await resolveEncryptionKey(config.encryptionKey, config.dataDir);
  const db = await openDatabase(config, log, { reuseRunning: true });
  try {
    const c = withEmbeddedDefaults(config, db.embedded);
    return await fn({ db, config: c, wired: wire({ config: c, sql: db.sql, session: db.session, log, encryptionKey: key.key }), log });
  } finally {
    await db.close();
  }
}
