/**
 * `npm run mutate [-- <stryker options>]`: runs Stryker (stryker.config.mjs)
 * over src/engine and src/policy, then turns its JSON report into
 * bench/results/mutation.json — per folder: mutants killed, survived, not
 * covered, timed out, ignored, and the mutation score — and prints a table.
 * `node bench/mutation-summary.ts --summary-only [--report F]…`
 * summarises the last report (or the reports named, merged: runs over
 * different folders) without running Stryker.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const REPORT = `${ROOT}reports/mutation/mutation.json`;
const OUT = `${ROOT}bench/results/mutation.json`;

/** The parts of a mutation-testing-report-schema report read here. */
interface Report {
  files: Record<string, { source: string; mutants: { id: string; mutatorName: string; status: string; statusReason?: string; location: { start: { line: number } } }[] }>;
  framework?: { name?: string; version?: string };
  config?: { coverageAnalysis?: string; concurrency?: number; ignoreStatic?: boolean; mutate?: string[]; vitest?: { configFile?: string } };
}

/** Counts of one folder (or of all), as in Stryker's own clear-text report. */
interface Counts {
  mutants: number;
  killed: number;
  survived: number;
  no_coverage: number;
  timeout: number;
  runtime_errors: number;
  compile_errors: number;
  ignored_static: number;
  ignored_by_comment: number;
  /** (killed + timeout) / (killed + timeout + survived + no coverage), in %: Stryker's mutation score. */
  score: number | null;
  /** The same over covered mutants only. */
  score_covered: number | null;
}

const STATIC_REASON = 'Static mutant';

function empty(): Counts {
  return { mutants: 0, killed: 0, survived: 0, no_coverage: 0, timeout: 0, runtime_errors: 0, compile_errors: 0, ignored_static: 0, ignored_by_comment: 0, score: null, score_covered: null };
}

function add(c: Counts, status: string, reason: string | undefined): void {
  c.mutants++;
  if (status === 'Killed') c.killed++;
  else if (status === 'Survived') c.survived++;
  else if (status === 'NoCoverage') c.no_coverage++;
  else if (status === 'Timeout') c.timeout++;
  else if (status === 'RuntimeError') c.runtime_errors++;
  else if (status === 'CompileError') c.compile_errors++;
  else if (status === 'Ignored' && reason?.startsWith(STATIC_REASON)) c.ignored_static++;
  else if (status === 'Ignored') c.ignored_by_comment++;
  else throw new Error(`unexpected mutant status ${status}`);
}

function scored(c: Counts): Counts {
  const detected = c.killed + c.timeout;
  const valid = detected + c.survived + c.no_coverage;
  const covered = detected + c.survived;
  const pct = (n: number, d: number) => (d ? Math.round((10_000 * n) / d) / 100 : null);
  return { ...c, score: pct(detected, valid), score_covered: pct(detected, covered) };
}

/** `src/engine/decide.ts` → `src/engine`. */
const folderOf = (file: string) => file.split('/').slice(0, 2).join('/');

/** Summarises a report: per folder, totals, and the mutants excluded by a comment with their reason. */
export function summarise(report: Report, o: { date: Date; seconds: number | null; reused: number | null }) {
  const folders = new Map<string, Counts>();
  const total = empty();
  const excluded: { file: string; line: number; mutator: string; reason: string }[] = [];
  const survivors: string[] = [];
  for (const [file, f] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
    const folder = folderOf(file);
    let c = folders.get(folder);
    if (!c) folders.set(folder, (c = empty()));
    for (const m of f.mutants) {
      add(c, m.status, m.statusReason);
      add(total, m.status, m.statusReason);
      if (m.status === 'Ignored' && !m.statusReason?.startsWith(STATIC_REASON)) excluded.push({ file, line: m.location.start.line, mutator: m.mutatorName, reason: m.statusReason ?? '' });
      if (m.status === 'Survived' || m.status === 'NoCoverage') survivors.push(`${file}:${m.location.start.line} ${m.mutatorName} (${m.status})`);
    }
  }
  return {
    tool: `${report.framework?.name ?? 'StrykerJS'} ${report.framework?.version ?? strykerVersion()}`,
    stryker_version: report.framework?.version ?? strykerVersion(),
    vitest_version: packageVersion('vitest'),
    date: o.date.toISOString(),
    run_seconds: o.seconds,
    /** Mutant results taken over from the previous run (incremental mode), when known. */
    reused_results: o.reused,
    /** What this summary covers, when it is not one full run (MUTATION_NOTE). */
    note: process.env.MUTATION_NOTE ?? null,
    config: {
      coverage_analysis: report.config?.coverageAnalysis ?? null,
      concurrency: report.config?.concurrency ?? null,
      ignore_static: report.config?.ignoreStatic ?? null,
      mutate: report.config?.mutate ?? null,
      vitest_config: report.config?.vitest?.configFile ?? null,
    },
    folders: Object.fromEntries([...folders].map(([k, v]) => [k, scored(v)])),
    total: scored(total),
    excluded_by_comment: excluded,
    survivors,
  };
}

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
}
function strykerVersion(): string {
  return packageVersion('@stryker-mutator/core');
}

/** A fixed-width table of the folders and the total. */
export function table(s: ReturnType<typeof summarise>): string {
  const head = ['folder', 'mutants', 'killed', 'survived', 'no cov.', 'timeout', 'ignored', 'score %'];
  const row = (name: string, c: Counts) => [name, c.mutants, c.killed, c.survived, c.no_coverage, c.timeout, c.ignored_static + c.ignored_by_comment, c.score ?? '-'].map(String);
  const rows = [head, ...Object.entries(s.folders).map(([k, v]) => row(k, v)), row('total', s.total)];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((x, i) => (i ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** Runs Stryker with the given options, echoing its output; resolves with its exit code and how many results it reused. */
function runStryker(args: string[]): Promise<{ code: number; reused: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${ROOT}node_modules/.bin/stryker`, ['run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    let reused: number | null = null;
    child.stdout.on('data', (b: Buffer) => {
      process.stdout.write(b);
      tail = (tail + b.toString()).slice(-4000);
      // "Incremental report: … Mutants: N files changed (+a -b) … N reused"
      const m = /Mutants:[^\n]*?(\d+) reused/.exec(tail);
      if (m) reused = Number(m[1]);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, reused }));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const summaryOnly = args.includes('--summary-only');
  const started = Date.now();
  let reused: number | null = null;
  if (!summaryOnly) {
    const r = await runStryker(args);
    if (r.code !== 0) process.exit(r.code);
    reused = r.reused;
  }
  const named = args.flatMap((a, i) => (a === '--report' && args[i + 1] ? [args[i + 1]!] : []));
  const reports = (named.length ? named : [REPORT]).map((f) => JSON.parse(readFileSync(f, 'utf8')) as Report);
  const merged: Report = {
    files: Object.assign({}, ...reports.map((r) => r.files)),
    framework: reports[0]!.framework,
    config: { ...reports[0]!.config, mutate: reports.flatMap((r) => r.config?.mutate ?? []) },
  };
  const seconds = summaryOnly ? Number(process.env.MUTATION_RUN_SECONDS) || null : Math.round((Date.now() - started) / 1000);
  const summary = summarise(merged, { date: new Date(), seconds, reused });
  writeFileSync(OUT, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`\n${table(summary)}\n\nwritten to bench/results/mutation.json\n`);
}
