/**
 * The reviewer's queries at scale: N decision records (10,000,000; 200,000
 * with --smoke) from 10,000 principals over 1,000 datasets and 90 days,
 * generated in SQL. Measures the p95 latency of a principal + 7-day query
 * through the same function the API uses (target <= 100 ms), and the peak
 * RSS of a process exporting a large filter as CSV, at two export sizes
 * (bounded: it must not grow with the rows exported). Run the full size
 * only on a machine you have to yourself: 10 million records take several
 * gigabytes of disk.
 *
 * The records are appended through the chain append function (8 chains), so
 * the log is hash-chained like a live one, and the bench also measures
 * verification: every record re-hashed and linked, in records per second
 * (target >= 100,000). More measurements plug into {@link extraMeasurements}.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditRoot, TrustedRoots } from '../src/audit/rootKey.ts';
import { writeExport } from '../src/audit/export.ts';
import { verifyLogs } from '../src/audit/postgres/verify.ts';
import { decisionLog, queryLog, streamLog, type DecisionFilter } from '../src/audit/postgres/query.ts';
import { loadConfig } from '../src/config.ts';
import { createSql, type Sql } from '../src/db/client.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createLogger } from '../src/logger.ts';
import { prepareDatabase, wire } from '../src/wire.ts';
import { freePort } from '../test/support/net.ts';
import { percentile, printTable, rng, writeResult } from './util.ts';

const PRINCIPALS = 10_000;
const DATASETS = 1_000;
const DAYS = 90;
/** The generated log ends here (fixed, so every run builds the same log). */
const END = Date.UTC(2026, 5, 1);
const START = END - DAYS * 86_400_000;
const DAY = 86_400_000;

/** Principal number → its uuid, as the generator's `md5('p' || n)::uuid` makes it. */
function principalUuid(n: number): string {
  const h = createHash('md5').update(`p${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Every column the generator fills, as [column, SQL expression over the
 * series value g (1..N) and the total :n]. The INSERT's column list and its
 * SELECT come from this one table: a new NOT NULL column (such as the hash
 * chain's chain_id, seq, prev_hash, hash) is one more line here.
 */
export const GENERATED_COLUMNS: [string, string][] = [
  ['id', `md5('d' || g)::uuid`],
  // In time order, as the writer appends them: START + g/N of the 90 days.
  ['at', `to_timestamp(${START / 1000}) + (g::float8 / :n) * interval '${DAYS} days'`],
  ['request_id', `'req-' || g`],
  ['caller_id', `NULL`],
  ['principal_id', `md5('p' || (abs(hashint4(g)) % ${PRINCIPALS}))::uuid`],
  ['sponsor_id', `CASE WHEN g % 4 = 0 THEN md5('p' || (abs(hashint4(g + 1)) % ${PRINCIPALS}))::uuid END`],
  ['dataset_id', `'ds-' || (abs(hashint4(g * 31)) % ${DATASETS})`],
  ['project_id', `'proj-' || (abs(hashint4(g * 31)) % ${DATASETS}) % 40`],
  ['action', `'dataset:read'`],
  ['purpose', `(ARRAY['model-training','model-evaluation','research','operations'])[1 + g % 4]`],
  ['effect', `CASE WHEN g % 10 = 0 THEN 'deny' ELSE 'allow' END`],
  ['rules', `ARRAY['rule-' || (g % 50)]`],
  ['reasons', `CASE WHEN g % 10 = 0 THEN ARRAY['no rule allows dataset:read'] ELSE '{}'::text[] END`],
  ['granted_columns', `ARRAY['note_text','admit_date']`],
  ['denied_columns', `'{}'::text[]`],
  ['obligations', `'[{"type":"no-export"}]'::jsonb`],
  ['grant_ids', `'{}'::text[]`],
  ['break_glass', `g % 1000 = 0`],
  ['policy_version', `'bench-v1'`],
  ['latency_us', `(g % 90) + 10`],
  ['input', `jsonb_build_object('purpose', 'research', 'dataset', jsonb_build_object('id', 'ds-' || (abs(hashint4(g * 31)) % ${DATASETS}), 'classification', CASE WHEN g % 3 = 0 THEN 'phi' ELSE 'deidentified' END))`],
  ['token_jti', `NULL`],
  ['token_expires_at', `NULL`],
  ['job', `NULL`],
];

/** What an extra measurement gets. */
export interface AuditBenchContext {
  sql: Sql;
  databaseUrl: string;
  rows: number;
  smoke: boolean;
}

/**
 * Further figures measured on the same generated log, merged into
 * bench/results/audit.json. Hook: hash-chain verification adds
 * `verify_records_per_s` here.
 */
export const extraMeasurements: ((ctx: AuditBenchContext) => Promise<Record<string, number | string>>)[] = [
  // Verification of the whole generated log, as `custos audit verify` runs it.
  async ({ sql, rows }) => {
    const root = AuditRoot.derive(randomBytes(32));
    const report = await verifyLogs({ sql, roots: new TrustedRoots([root.publicKey]) }, { from: new Date(START - DAY), to: new Date(END + DAY) });
    if (!report.ok || report.records < rows) throw new Error(`verification: ${report.records} records, problems ${JSON.stringify(report.problems.slice(0, 3))}`);
    return { verify_records: report.records, verify_s: Math.round(report.seconds * 10) / 10, verify_records_per_s: report.records_per_second };
  },
];

/** Chains the generated log is spread over (as if 4 replicas wrote with 2 lanes each). */
const CHAINS = 8;
const chainId = (k: number) => `b0000000-0000-7000-8000-${String(k + 1).padStart(12, '0')}`;

/**
 * Appends rows [from, to] of the series through the server's own chain append
 * function, row g going to chain g mod CHAINS: the generated log is hash-chained
 * exactly as a live one is, so verification can be measured on it.
 */
async function generate(sql: Sql, from: number, to: number, n: number): Promise<void> {
  const object = GENERATED_COLUMNS.map(([c, e]) => `'${c}', ${e.replaceAll(':n', String(n))}`).join(',\n  ');
  for (let k = 0; k < CHAINS; k++) {
    // Constant text built here from the table above (numbers only, no outside input).
    await sql.unsafe(
      `SELECT custos_append_decisions('${chainId(k)}'::uuid,
         (SELECT coalesce(jsonb_agg(jsonb_build_object(${object}) ORDER BY g), '[]') FROM generate_series(${from}, ${to}) AS g WHERE g % ${CHAINS} = ${k}))`,
    );
  }
}


/**
 * V8 flags of the export child: a small, fixed heap. Unconstrained, V8 lets
 * short-lived garbage pile up before collecting (RSS then tracks the heap
 * limit, not the export); capped, an export that kept rows would die of
 * out-of-memory instead of finishing. BENCH_AUDIT_CHILD_FLAGS overrides.
 */
const CHILD_FLAGS = process.env.BENCH_AUDIT_CHILD_FLAGS ?? '--max-old-space-size=64 --max-semi-space-size=2';

/** Runs the export in a child process; returns its rows and peak RSS and heap (MB). */
function exportInChild(databaseUrl: string, filter: DecisionFilter): Promise<{ rows: number; peak_rss_mb: number; peak_heap_mb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CHILD_FLAGS.split(' ').filter(Boolean), new URL(import.meta.url).pathname], {
      env: { ...process.env, BENCH_AUDIT_EXPORT: JSON.stringify({ databaseUrl, filter }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`export child exited ${code}`))));
  });
}

/** The child: streams the filter as CSV to /dev/null and reports its peak RSS. */
async function exportChild(spec: { databaseUrl: string; filter: DecisionFilter }): Promise<void> {
  const sql = createSql({ url: spec.databaseUrl, max: 1 });
  const out = createWriteStream('/dev/null');
  let heap = 0;
  const sample = setInterval(() => (heap = Math.max(heap, process.memoryUsage().heapUsed)), 50);
  const r = await writeExport({ format: 'csv', columns: decisionLog.columns, batches: streamLog(sql, decisionLog, spec.filter), out });
  clearInterval(sample);
  out.end();
  await sql.end();
  // resourceUsage().maxRSS is in kilobytes.
  process.stdout.write(JSON.stringify({ rows: r.rows, peak_rss_mb: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10, peak_heap_mb: Math.round((heap / 1048576) * 10) / 10 }) + '\n');
}

export async function run({ smoke }: { smoke: boolean }): Promise<void> {
  const n = smoke ? 200_000 : 10_000_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'custos-bench-audit-'));
  const pg = await startEmbeddedPostgres({ dir, port: await freePort() });
  const admin = createSql({ url: pg.adminUrl, max: 1 });
  await admin.unsafe('CREATE DATABASE custos');
  await admin.end();
  const databaseUrl = pg.urlFor('custos');
  const sql = createSql({ url: databaseUrl, max: 4 });
  try {
    const config = loadConfig({ DATABASE_URL: databaseUrl, CUSTOS_ENCRYPTION_KEY: randomBytes(32).toString('base64'), CUSTOS_LOG_LEVEL: 'silent' });
    const log = createLogger({ level: 'silent' });
    await prepareDatabase(sql, wire({ config, sql, log, encryptionKey: config.encryptionKey! }), log, { autoBootstrap: false });

    for (let k = 0; k < CHAINS; k++) await sql`INSERT INTO audit_chains (id, log, instance, started_at) VALUES (${chainId(k)}, 'decision_log', ${`bench-${k}`}, now())`;
    const t0 = performance.now();
    const chunk = 40_000;
    for (let from = 1; from <= n; from += chunk) {
      const to = Math.min(n, from + chunk - 1);
      await generate(sql, from, to, n);
      process.stderr.write(`\rgenerated ${to.toLocaleString('en')} / ${n.toLocaleString('en')} records`);
    }
    process.stderr.write('\n');
    await sql`VACUUM ANALYZE decision_log`;
    const generateS = (performance.now() - t0) / 1000;

    // A principal + 7-day query, as a reviewer's first page (100 rows, newest first).
    const rand = rng(7);
    const query = async () => {
      const p = Math.floor(rand() * PRINCIPALS);
      const id = principalUuid(p);
      const from = START + Math.floor(rand() * (DAYS - 7)) * DAY;
      const filter = { principal: id, from: new Date(from).toISOString(), to: new Date(from + 7 * DAY).toISOString(), order: 'desc' as const };
      const s = performance.now();
      const page = await queryLog(sql, decisionLog, { filter, limit: 100 });
      return { ms: performance.now() - s, rows: page.items.length };
    };
    for (let i = 0; i < 20; i++) await query();
    const times: number[] = [];
    let returned = 0;
    for (let i = 0; i < 200; i++) {
      const q = await query();
      times.push(q.ms);
      returned += q.rows;
    }
    times.sort((a, b) => a - b);

    // Export peak RSS at two sizes: a tenth of the log and all of it.
    const small = await exportInChild(databaseUrl, { order: 'asc', to: new Date(START + (DAYS / 10) * DAY).toISOString() });
    const large = await exportInChild(databaseUrl, { order: 'asc' });

    const figures: Record<string, number | string | boolean> = {
      smoke,
      rows: n,
      principals: PRINCIPALS,
      datasets: DATASETS,
      days: DAYS,
      generate_s: Math.round(generateS * 10) / 10,
      queries: times.length,
      query_rows_avg: Math.round((returned / times.length) * 10) / 10,
      query_p50_ms: Math.round(percentile(times, 50) * 100) / 100,
      query_p95_ms: Math.round(percentile(times, 95) * 100) / 100,
      query_p99_ms: Math.round(percentile(times, 99) * 100) / 100,
      export_small_rows: small.rows,
      export_small_peak_rss_mb: small.peak_rss_mb,
      export_rows: large.rows,
      export_peak_rss_mb: large.peak_rss_mb,
      export_small_peak_heap_mb: small.peak_heap_mb,
      export_peak_heap_mb: large.peak_heap_mb,
      export_child_flags: CHILD_FLAGS,
    };
    const extra: Record<string, number | string> = {};
    for (const m of extraMeasurements) Object.assign(extra, await m({ sql, databaseUrl, rows: n, smoke }));
    Object.assign(figures, extra);

    printTable(`audit: ${n.toLocaleString('en')} decision records`, [
      ['generate (s)', figures.generate_s as number],
      ['principal + 7 days: rows per query (avg)', figures.query_rows_avg as number],
      ['query p50 (ms)', figures.query_p50_ms as number],
      ['query p95 (ms), target <= 100', figures.query_p95_ms as number],
      ['query p99 (ms)', figures.query_p99_ms as number],
      [`export ${small.rows.toLocaleString('en')} rows: peak RSS (MB)`, small.peak_rss_mb],
      [`export ${large.rows.toLocaleString('en')} rows: peak RSS (MB)`, large.peak_rss_mb],
      ...Object.entries(extra).map(([k, v]) => [k, v] as [string, number | string]),
    ]);
    writeResult('audit', figures);
  } finally {
    await sql.end();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_AUDIT_EXPORT) await exportChild(JSON.parse(process.env.BENCH_AUDIT_EXPORT));
