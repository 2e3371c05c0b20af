/**
 * The server the HTTP benchmarks load: Custos exactly as main.ts wires it,
 * with as many workers as CUSTOS_WORKERS says (`auto` by default: one fewer
 * than the cores, the bench's PostgreSQL being on this machine), plus a bare
 * express hello-world route on the same app, so both are measured
 * under the same conditions. The database is prepared by the benchmark.
 *
 * Detection (docs/monitoring.md) runs only with BENCH_DETECTION=1, with the
 * policy CUSTOS_MONITORING_FILE names (or the shipped one), so the other
 * benchmarks measure what they always did.
 *
 * On SIGTERM each worker writes its counters to stderr, one line each:
 * `facts: {...}` (the facts in memory) and `group commit: {...}`.
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { createRequestListener } from '../src/http/server.ts';
import { loadConfig } from '../src/config.ts';
import { workerExecArgv } from '../src/heapSettings.ts';
import { createSql } from '../src/db/client.ts';
import { createLogger } from '../src/logger.ts';
import { monitoringPolicyOf, prepareWorker, wire } from '../src/wire.ts';

const config = loadConfig();

if (cluster.isPrimary && config.workers > 1) {
  // The workers' heap settings, as main.ts gives them.
  cluster.setupPrimary({ execArgv: workerExecArgv() });
  const workers = Array.from({ length: config.workers }, () => cluster.fork());
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === workers.length) process.stdout.write('ready\n');
  });
  let alive = workers.length;
  cluster.on('exit', () => {
    if (--alive === 0) process.exit(0);
  });
  process.on('SIGTERM', () => {
    for (const w of workers) w.process.kill('SIGTERM');
  });
} else {
  const log = createLogger({ level: 'warn' });
  const sql = createSql({ url: config.databaseUrl!, max: config.dbPoolMax });
  const monitoring = process.env.BENCH_DETECTION === '1' ? monitoringPolicyOf({ ...config, monitoring: { ...config.monitoring, enabled: true } }) : undefined;
  const wired = wire({ config, sql, log, encryptionKey: config.encryptionKey!, monitoring });
  await prepareWorker(wired);
  await wired.catalogSync.start();
  wired.monitoring.pipeline?.start();

  // The bare route hangs off the same express app, ahead of Custos's middleware.
  const app = createRequestListener(wired.app, {
    before: (a) =>
      a.get('/hello', (_req, res) => {
        res.json({ hello: 'world' });
      }),
  });
  createServer(app).listen(config.port, config.host, () => {
    if (cluster.isPrimary) process.stdout.write('ready\n');
  });
  process.on('SIGTERM', () => {
    const stats = (wired.decisions.log as unknown as { stats?: unknown }).stats;
    process.stderr.write(`facts: ${JSON.stringify(wired.facts.stats)}\ngroup commit: ${JSON.stringify(stats)}\n`, () => process.exit(0));
  });
}
