/**
 * The server the HTTP benchmarks load: Custos exactly as main.ts wires it,
 * plus a bare express hello-world route on the same app, so both are
 * measured under the same conditions.
 */
import { createServer } from 'node:http';
import { createRequestListener } from '../src/http/server.ts';
import { loadConfig } from '../src/config.ts';
import { createSql } from '../src/db/client.ts';
import { createLogger } from '../src/logger.ts';
import { wire } from '../src/wire.ts';

const config = loadConfig();
const log = createLogger({ level: 'warn' });
const sql = createSql({ url: config.databaseUrl!, max: config.dbPoolMax });
const wired = wire({ config, sql, log, encryptionKey: config.encryptionKey! });
const r = await wired.policy.reload();
if (!r.ok) throw r.error;
await wired.catalogSync.start();
await wired.keys.init();

// The bare route hangs off the same express app, ahead of Custos's middleware.
const app = createRequestListener(wired.app, {
  before: (a) =>
    a.get('/hello', (_req, res) => {
      res.json({ hello: 'world' });
    }),
});
createServer(app).listen(config.port, config.host, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  const stats = (wired.decisions.log as unknown as { stats?: unknown }).stats;
  process.stderr.write(`group commit: ${JSON.stringify(stats)}\n`);
  process.exit(0);
});
