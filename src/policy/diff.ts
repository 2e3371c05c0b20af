/**
 * Differences between two policy versions: per rule document, the rules
 * added, removed and changed (by id), and a unified text diff of each
 * changed document (and of each changed test file).
 */
import { isDeepStrictEqual } from 'node:util';
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch, type StructuredPatch } from 'diff';
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

/** The most changed lines (removed plus added) worked out line by line; beyond, the changed part is shown replaced wholesale. */
export const MAX_EDIT_LENGTH = 1000;

/**
 * Myers' algorithm (jsdiff) takes time in proportion to changed lines ×
 * lines compared: in long texts, fewer changed lines are worked out, so
 * that this product stays under MAX_DIFF_WORK.
 */
export const MAX_DIFF_WORK = 16_000_000;

/** How many changed lines are worked out line by line in texts of `lines` lines together. */
export function maxEditsFor(lines: number): number {
  return Math.min(MAX_EDIT_LENGTH, Math.floor(MAX_DIFF_WORK / lines));
}

/** The text as whole lines, each ending in a newline: one missing final newline is no difference. */
const asLines = (text: string | undefined) => (text === undefined || text === '' || text.endsWith('\n') ? (text ?? '') : `${text}\n`);

/**
 * A unified diff of two texts (empty when equal), by jsdiff; with more than
 * `maxEdits` changed lines, everything between the first and the last
 * difference is shown replaced wholesale.
 */
export function unifiedDiff(name: string, before: string | undefined, after: string | undefined, context = 3, maxEdits?: number): string {
  const a = asLines(before);
  const b = asLines(after);
  const x = a.split('\n').slice(0, -1);
  const y = b.split('\n').slice(0, -1);
  const names = [before === undefined ? '/dev/null' : `a/${name}`, after === undefined ? '/dev/null' : `b/${name}`] as const;
  const patch =
    structuredPatch(...names, a, b, undefined, undefined, { context, maxEditLength: maxEdits ?? maxEditsFor(x.length + y.length) }) ??
    wholesale(...names, x, y, context);
  return patch.hunks.length ? formatPatch(patch, FILE_HEADERS_ONLY) : '';
}

/** One hunk replacing every line between the common head and tail, with `context` lines around it. */
function wholesale(oldFileName: string, newFileName: string, x: string[], y: string[], context: number): StructuredPatch {
  const shorter = Math.min(x.length, y.length);
  let head = 0;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: the texts differ (equal ones never get here), so the comparison stops at the end of the shorter one anyway; the bound only guards the loop.
  while (head < shorter && x[head] === y[head]) head++;
  // The tail never reaches into the head (x = [a, b], y = [a, b, a, b]: head 2, tail 0).
  let tail = 0;
  while (tail < shorter - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const from = Math.max(0, head - context);
  const after = Math.min(tail, context);
  const lines = [
    ...x.slice(from, head).map((l) => ` ${l}`),
    ...x.slice(head, x.length - tail).map((l) => `-${l}`),
    ...y.slice(head, y.length - tail).map((l) => `+${l}`),
    ...x.slice(x.length - tail, x.length - tail + after).map((l) => ` ${l}`),
  ];
  const hunk = { oldStart: from + 1, oldLines: x.length - tail + after - from, newStart: from + 1, newLines: y.length - tail + after - from, lines };
  return { oldFileName, newFileName, oldHeader: undefined, newHeader: undefined, hunks: [hunk] };
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
