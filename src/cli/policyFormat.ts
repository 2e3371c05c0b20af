/**
 * Terminal output of the policy commands: test reports, diffs and
 * simulation reports, readable in a terminal (colour only on a TTY).
 */
import yoctoSpinner from 'yocto-spinner';
import type { PolicyDiff } from '../policy/diff.ts';
import type { PolicyTestReport } from '../policy/policyTests.ts';
import type { SimulationReport } from '../policy/simulate.ts';

const tty = () => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (tty() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const red = paint('31');
export const green = paint('32');
export const bold = paint('1');
const dim = paint('2');

/** A test report: one line per failing case with expected vs actual, then a summary. */
export function formatTestReport(r: PolicyTestReport): string {
  const out: string[] = [];
  for (const f of r.failures) {
    out.push(`${red('FAIL')} ${f.file} › ${f.case ?? '(file)'}`);
    if (f.mismatches?.length) for (const m of f.mismatches) out.push(`     ${m.field}: expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`);
    else out.push(`     ${f.message}`);
  }
  const summary = `${r.passed}/${r.cases} case(s) passed in ${r.files} file(s)`;
  out.push(r.ok ? green(`ok: ${summary}`) : red(`${r.failures.length} failing: ${summary}`));
  return out.join('\n') + '\n';
}

/** A diff: per file the rule ids, then the unified diff. */
export function formatDiff(d: PolicyDiff, o: { from?: string; to?: string } = {}): string {
  if (!d.documents.length && !d.tests.length) return `no differences${o.from ? ` between ${o.from} and ${o.to}` : ''}\n`;
  const out: string[] = [];
  for (const f of d.documents) {
    out.push(bold(`${f.status.padEnd(8)} ${f.name}`));
    const r = f.rules!;
    if (r.added.length) out.push(green(`  + rules: ${r.added.join(', ')}`));
    if (r.removed.length) out.push(red(`  - rules: ${r.removed.join(', ')}`));
    if (r.changed.length) out.push(`  ~ rules: ${r.changed.join(', ')}`);
  }
  for (const f of d.tests) out.push(bold(`${f.status.padEnd(8)} tests/${f.name}`));
  out.push('');
  for (const f of [...d.documents, ...d.tests]) {
    for (const line of f.unified.replace(/\n$/, '').split('\n')) out.push(line.startsWith('+') && !line.startsWith('+++') ? green(line) : line.startsWith('-') && !line.startsWith('---') ? red(line) : line.startsWith('@@') ? dim(line) : line);
  }
  return out.join('\n') + '\n';
}

/** A simulation report: totals, then the largest groups with an example each. */
export function formatSimulation(r: SimulationReport): string {
  const out = [
    `replayed ${r.replayed.toLocaleString('en-US')} logged request(s) from ${r.from} to ${r.to}${r.truncated ? ' (limit reached)' : ''}${r.skipped ? `, ${r.skipped} skipped (principal or dataset gone)` : ''}`,
    `live ${r.live_version} → candidate: ${red(`${r.flips.allow_to_deny} allow → deny`)}, ${green(`${r.flips.deny_to_allow} deny → allow`)}, ${r.unchanged.toLocaleString('en-US')} unchanged`,
  ];
  const table = (title: string, groups: SimulationReport['by_rule']) => {
    if (!groups.length) return;
    out.push('', bold(title));
    for (const g of groups.slice(0, 10)) {
      out.push(`  ${g.key.padEnd(40)} ${String(g.allow_to_deny).padStart(7)} allow→deny ${String(g.deny_to_allow).padStart(7)} deny→allow`);
      const ex = g.examples[0];
      if (ex) out.push(dim(`    e.g. decision ${ex.decision_id} at ${ex.at}: ${ex.live.effect} → ${ex.candidate.effect}${ex.candidate.reasons[0] ? ` (${ex.candidate.reasons[0]})` : ''}`));
    }
  };
  table('by rule', r.by_rule);
  table('by principal', r.by_principal);
  table('by dataset', r.by_dataset);
  return out.join('\n') + '\n';
}

/** A spinner (yocto-spinner) with a message and the time taken on stderr while a promise runs (a plain line when not a TTY). */
export async function withSpinner<T>(message: string, work: Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) {
    process.stderr.write(`${message}…\n`);
    return work;
  }
  const t0 = Date.now();
  const spinner = yoctoSpinner({ text: message, stream: process.stderr }).start();
  const timer = setInterval(() => (spinner.text = `${message} ${((Date.now() - t0) / 1000).toFixed(1)} s`), 100);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    spinner.stop();
  }
}
