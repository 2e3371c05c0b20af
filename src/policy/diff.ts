/**
 * Differences between two policy versions: per rule document, the rules
 * added, removed and changed (by id), and a unified text diff of each
 * changed document (and of each changed test file).
 */
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import type { PolicyFiles } from './store.ts';

/** How one file differs. */
export interface FileDiff {
  name: string;
  status: 'added' | 'removed' | 'changed';
  /** Rule documents only: rule ids. */
  rules?: { added: string[]; removed: string[]; changed: string[] };
  /** Unified diff (`---`/`+++` headers, `@@` hunks, 3 lines of context). */
  unified: string;
}

/** Result of {@link diffPolicies}. */
export interface PolicyDiff {
  documents: FileDiff[];
  tests: FileDiff[];
  /** Every rule id added, removed or changed, across documents. */
  changed_rules: string[];
}

/** Rules of a document by id (an unreadable document has none). */
function rulesOf(text: string | undefined): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (text === undefined) return out;
  try {
    const doc = parse(text, { maxAliasCount: 50 }) as { rules?: unknown };
    if (doc && Array.isArray(doc.rules)) {
      for (const r of doc.rules) if (r && typeof r === 'object' && typeof (r as { id?: unknown }).id === 'string') out.set((r as { id: string }).id, r);
    }
  } catch {
    /* not YAML: the text diff still shows it */
  }
  return out;
}

type Op = { kind: ' ' | '-' | '+'; line: string };

/** The largest table (lines before × lines after, common head and tail left out) compared line by line: 64 MB of counters. */
export const MAX_DIFF_CELLS = 16_000_000;

/** Line operations turning `a` into `b` (longest common subsequence; wholesale beyond `maxCells`). */
function lineOps(a: string[], b: string[], maxCells: number): Op[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const head: Op[] = a.slice(0, start).map((line) => ({ kind: ' ', line }));
  const tail: Op[] = a.slice(endA).map((line) => ({ kind: ' ', line }));
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  const n = x.length;
  const m = y.length;
  const mid: Op[] = [];
  if (n * m > maxCells) {
    // Too large for the table: show the middle as replaced wholesale.
    for (const line of x) mid.push({ kind: '-', line });
    for (const line of y) mid.push({ kind: '+', line });
  } else {
    const w = m + 1;
    const t = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) t[i * w + j] = x[i] === y[j] ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) {
        mid.push({ kind: ' ', line: x[i]! });
        i++;
        j++;
      } else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) mid.push({ kind: '-', line: x[i++]! });
      else mid.push({ kind: '+', line: y[j++]! });
    }
    while (i < n) mid.push({ kind: '-', line: x[i++]! });
    while (j < m) mid.push({ kind: '+', line: y[j++]! });
  }
  return [...head, ...mid, ...tail];
}

const lines = (text: string | undefined) => (text === undefined || text === '' ? [] : text.replace(/\n$/, '').split('\n'));

/** A unified diff of two texts (empty when equal); middles larger than `maxCells` are shown replaced wholesale. */
export function unifiedDiff(name: string, before: string | undefined, after: string | undefined, context = 3, maxCells = MAX_DIFF_CELLS): string {
  const ops = lineOps(lines(before), lines(after), maxCells);
  if (!ops.some((o) => o.kind !== ' ')) return '';
  const out = [`--- ${before === undefined ? '/dev/null' : `a/${name}`}`, `+++ ${after === undefined ? '/dev/null' : `b/${name}`}`];
  const changed = ops.map((o, k) => (o.kind !== ' ' ? k : -1)).filter((k) => k >= 0);
  let k = 0;
  while (k < changed.length) {
    const first = Math.max(0, changed[k]! - context);
    let last = Math.min(ops.length - 1, changed[k]! + context);
    while (k + 1 < changed.length && changed[k + 1]! - context <= last + 1) {
      k++;
      last = Math.min(ops.length - 1, changed[k]! + context);
    }
    k++;
    // Line numbers at the hunk's start.
    let aLine = 1;
    let bLine = 1;
    for (let q = 0; q < first; q++) {
      if (ops[q]!.kind !== '+') aLine++;
      if (ops[q]!.kind !== '-') bLine++;
    }
    const hunk = ops.slice(first, last + 1);
    const aLen = hunk.filter((o) => o.kind !== '+').length;
    const bLen = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${aLen ? aLine : aLine - 1},${aLen} +${bLen ? bLine : bLine - 1},${bLen} @@`);
    for (const o of hunk) out.push(o.kind + o.line);
  }
  return out.join('\n') + '\n';
}

function diffFiles(before: PolicyFiles, after: PolicyFiles, withRules: boolean): FileDiff[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const out: FileDiff[] = [];
  for (const name of names) {
    const a = Object.hasOwn(before, name) ? before[name] : undefined;
    const b = Object.hasOwn(after, name) ? after[name] : undefined;
    if (a === b) continue;
    const d: FileDiff = { name, status: a === undefined ? 'added' : b === undefined ? 'removed' : 'changed', unified: unifiedDiff(name, a, b) };
    if (withRules) {
      const ra = rulesOf(a);
      const rb = rulesOf(b);
      d.rules = {
        added: [...rb.keys()].filter((id) => !ra.has(id)),
        removed: [...ra.keys()].filter((id) => !rb.has(id)),
        changed: [...rb.keys()].filter((id) => ra.has(id) && !isDeepStrictEqual(ra.get(id), rb.get(id))),
      };
    }
    out.push(d);
  }
  return out;
}

/** Compares two versions' documents and tests. */
export function diffPolicies(before: { documents: PolicyFiles; tests?: PolicyFiles }, after: { documents: PolicyFiles; tests?: PolicyFiles }): PolicyDiff {
  const documents = diffFiles(before.documents, after.documents, true);
  const ids = new Set<string>();
  for (const d of documents) for (const id of [...d.rules!.added, ...d.rules!.removed, ...d.rules!.changed]) ids.add(id);
  return { documents, tests: diffFiles(before.tests ?? {}, after.tests ?? {}, false), changed_rules: [...ids].sort() };
}
