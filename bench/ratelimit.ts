/**
 * What the rate limits cost a request (docs/rate-limits.md): the limiter's
 * admit() on a real PostgreSQL (embedded), for one client asking at 90 % of
 * its limit (every request admitted) and at ten times it (a flood, mostly
 * refused), at a few limits. Reports the p50 and p99 of admit() per request
 * (leases included: a request that waited for one pays its round trip) and
 * the statements sent to the shared bucket per 1,000 requests. The HTTP
 * request around it is not timed here: what the limiter adds to a request is
 * this call (plus, for a refusal, the 429 it answers instead of a decision).
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.ts';
import { createSql } from '../src/db/client.ts';
import { RateLimitedError } from '../src/errors.ts';
import { createLogger } from '../src/logger.ts';
import { RateLimiter } from '../src/ratelimit/limiter.ts';
import { createBucketStore } from '../src/ratelimit/postgres/bucketStore.ts';
import { prepareDatabase, wire } from '../src/wire.ts';
import { withScratchPostgres } from './harness.ts';
import { percentile, printTable, writeResult } from './util.ts';

interface Row {
  limit: string;
  load: string;
  requests: number;
  admitted: number;
  p50_us: number;
  p99_us: number;
  statements_per_1000: number;
}

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const seconds = smoke ? 0.5 : 3;
  await withScratchPostgres('ratelimit', async (url) => {
    const config = loadConfig({ DATABASE_URL: url, CUSTOS_ENCRYPTION_KEY: randomBytes(32).toString('base64'), CUSTOS_LOG_LEVEL: 'silent' });
    const sql = createSql({ url, max: 4 });
    const log = createLogger({ level: 'silent' });
    const wired = wire({ config, sql, log, encryptionKey: config.encryptionKey! });
    await prepareDatabase(sql, wired, log, { autoBootstrap: false });
    const rows: Row[] = [];
    for (const rate of [100, 2000]) {
      for (const factor of [0.9, 10]) {
        const limiter = new RateLimiter({
          store: createBucketStore(sql),
          audit: wired.audit,
          clock: { now: () => new Date() },
          log,
          onLimited: () => {},
          settings: { ...config.rateLimits!, classes: { ...config.rateLimits!.classes, service: { rate, burst: rate } } },
        });
        rows.push(await load(limiter, rate, factor, seconds));
      }
    }
    await sql.end();
    printTable(
      'Rate limiter: admit() per request, on PostgreSQL (embedded)',
      rows.map((r) => [`${r.limit}, ${r.load}`, `p50 ${r.p50_us.toFixed(1)} µs, p99 ${r.p99_us.toFixed(0)} µs, ${r.statements_per_1000.toFixed(1)} statements per 1,000 requests (${r.admitted} of ${r.requests} admitted)`]),
    );
    writeResult('ratelimit', { smoke, seconds_per_row: seconds, lease_fraction: config.rateLimits!.leaseFraction, rows });
  });
}

/** One client asking at `factor` × its limit for `seconds`, in ticks of a millisecond: each admit() timed. */
async function load(limiter: RateLimiter, rate: number, factor: number, seconds: number): Promise<Row> {
  const who = { via: 'client' as const, principalId: randomBytes(8).toString('hex') };
  const perMs = (rate * factor) / 1000;
  const times: number[] = [];
  let admitted = 0;
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor((performance.now() - started) * perMs);
    while (sent < due) {
      sent++;
      const t = performance.now();
      try {
        const p = limiter.admitClient(who, 'decision', 1);
        if (p) await p;
        admitted++;
      } catch (err) {
        if (!(err instanceof RateLimitedError)) throw err;
      }
      times.push(performance.now() - t);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  times.sort((a, b) => a - b);
  return {
    limit: `${rate}/s`,
    load: factor < 1 ? `${Math.round(factor * 100)} % of it` : `${factor}× it`,
    requests: sent,
    admitted,
    p50_us: percentile(times, 50) * 1000,
    p99_us: percentile(times, 99) * 1000,
    statements_per_1000: (limiter.leases / sent) * 1000,
  };
}
