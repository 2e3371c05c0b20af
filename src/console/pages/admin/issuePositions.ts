/**
 * Where in a YAML rule document a validation issue points. The server names
 * an issue by document, rule (its id, or `rules[i]` when it has none) and
 * field (a dotted path inside the rule, e.g. `roles.0`, `when`,
 * `columns.except_categories.2`; or outside rules, e.g.
 * `access.requests.0.role`). This walks the same path through the YAML's
 * syntax tree (the `yaml` package's parseDocument, the parser the server
 * uses) to the node's source range; a path that ends at a missing field
 * marks the nearest node that exists (its first line). A YAML syntax error
 * is placed where the parser reports it.
 */
import type { Diagnostic } from '@codemirror/lint';
import { isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { PolicyIssue } from './types.ts';

type Path = (string | number)[];

function nodeAt(doc: Document, path: Path): Node | undefined {
  for (let n = path.length; n >= 1; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node && typeof node === 'object' && node.range) return node;
  }
  return undefined;
}

/** The range of the first line of [from, to), so a whole rule is not underlined. */
function firstLine(text: string, from: number, to: number): { from: number; to: number } {
  const nl = text.indexOf('\n', from);
  return { from, to: nl > from && nl < to ? nl : to };
}

/** The source range an issue points at in `text`. */
export function issueRange(text: string, issue: PolicyIssue): { from: number; to: number } {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (issue.message.startsWith('YAML:') || doc.errors.length) {
    const e = doc.errors[0];
    if (e) return { from: e.pos[0], to: Math.max(e.pos[1], e.pos[0] + 1) };
  }
  const path: Path = [];
  if (issue.rule) {
    const rules = doc.get('rules', true);
    const m = /^rules\[(\d+)\]$/.exec(issue.rule);
    const index = m ? Number(m[1]) : isSeq(rules) ? rules.items.findIndex((it) => isMap(it) && it.get('id') === issue.rule) : -1;
    if (index >= 0) path.push('rules', index);
  }
  if (issue.field) for (const part of issue.field.split('.')) path.push(/^\d+$/.test(part) ? Number(part) : part);
  const node = path.length ? nodeAt(doc, path) : undefined;
  if (!node?.range) return firstLine(text, 0, text.length);
  // "unknown field(s): a, b": the first such key of the map.
  const unknown = /^unknown field\(s\): (.+)$/.exec(issue.message)?.[1]?.split(', ');
  if (unknown && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && unknown.includes(String(p.key.value)));
    if (pair && isScalar(pair.key) && pair.key.range) return { from: pair.key.range[0], to: pair.key.range[1] };
  }
  const [from, to] = node.range;
  return isScalar(node) ? { from, to: Math.max(to, from + 1) } : firstLine(text, from, to);
}

/** CodeMirror diagnostics for the issues of one document. */
export function diagnosticsFor(text: string, document: string, issues: PolicyIssue[]): Diagnostic[] {
  return issues
    .filter((i) => i.document === document)
    .map((i) => {
      const r = issueRange(text, i);
      const where = [i.rule, i.field].filter(Boolean).join(' › ');
      return { from: Math.min(r.from, text.length), to: Math.min(r.to, text.length), severity: 'error' as const, message: where ? `${where}: ${i.message}` : i.message };
    });
}

/** 1-based line of a position. */
export function lineOf(text: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** CodeMirror diagnostics for the failing cases of one test file: each case's `name`. */
export function failureDiagnostics(text: string, file: string, failures: { file: string; case: string | null; message: string }[]): Diagnostic[] {
  const mine = failures.filter((f) => f.file === file);
  if (mine.length === 0) return [];
  const doc = parseDocument(text);
  const cases = doc.get('cases', true);
  return mine.map((f) => {
    let range = firstLine(text, 0, text.length);
    if (f.case !== null && isSeq(cases)) {
      const item = cases.items.find((it) => isMap(it) && it.get('name') === f.case);
      const name = isMap(item) ? item.get('name', true) : undefined;
      if (isScalar(name) && name.range) range = { from: name.range[0], to: name.range[1] };
    }
    return { ...range, severity: 'error' as const, message: `${f.case ?? '(the file)'}: ${f.message}` };
  });
}
