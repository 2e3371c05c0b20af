/**
 * Policy diffs as reviewers read them before approving a push: unified text
 * diffs by jsdiff (hunk headers, context, merging of nearby changes, line
 * numbers, the wholesale fallback beyond a limit of changed lines) and
 * rule ids added, removed and changed per document.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffPolicies, MAX_DIFF_WORK, MAX_EDIT_LENGTH, maxEditsFor, unifiedDiff } from '../../src/policy/diff.ts';

const text = (...lines: string[]) => lines.map((l) => `${l}\n`).join('');
const numbered = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `l${i + from}`);

describe('unifiedDiff', () => {
  it('is empty for equal texts, and for two absent or empty ones', () => {
    expect(unifiedDiff('x', 'a\nb\n', 'a\nb\n')).toBe('');
    expect(unifiedDiff('x', undefined, undefined)).toBe('');
    expect(unifiedDiff('x', '', undefined)).toBe('');
  });

  it('shows a removed file against /dev/null', () => {
    expect(unifiedDiff('x', 'a\nb\n', undefined)).toBe('--- a/x\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n');
  });

  it('ignores one trailing newline but not an inner empty line', () => {
    expect(unifiedDiff('x', 'a\n', 'a')).toBe('');
    expect(unifiedDiff('x', 'a\n\nb\n', 'a\nb\n')).toBe('--- a/x\n+++ b/x\n@@ -1,3 +1,2 @@\n a\n-\n b\n');
  });

  it('keeps three lines of context and gives the hunk its line numbers', () => {
    const before = text(...numbered(20));
    const after = text(...numbered(20).map((l) => (l === 'l10' ? 'ten' : l)));
    expect(unifiedDiff('f.yaml', before, after)).toBe(
      ['--- a/f.yaml', '+++ b/f.yaml', '@@ -7,7 +7,7 @@', ' l7', ' l8', ' l9', '-l10', '+ten', ' l11', ' l12', ' l13', ''].join('\n'),
    );
  });

  it('honours a context of another size', () => {
    const before = text(...numbered(9));
    const after = text(...numbered(9).map((l) => (l === 'l5' ? 'five' : l)));
    expect(unifiedDiff('f', before, after, 1)).toBe('--- a/f\n+++ b/f\n@@ -4,3 +4,3 @@\n l4\n-l5\n+five\n l6\n');
    expect(unifiedDiff('f', before, after, 0)).toBe('--- a/f\n+++ b/f\n@@ -5,1 +5,1 @@\n-l5\n+five\n');
  });

  it('merges changes whose context touches into one hunk and splits those further apart', () => {
    const lines = numbered(30);
    // Changes at l5 and l12: 6 unchanged lines between them, exactly two contexts: one hunk.
    const touching = lines.map((l) => (l === 'l5' || l === 'l12' ? l.toUpperCase() : l));
    expect(unifiedDiff('f', text(...lines), text(...touching)).match(/^@@.*$/gm)).toEqual(['@@ -2,14 +2,14 @@']);
    // Changes at l5 and l13: 7 lines between them: two hunks.
    const apart = lines.map((l) => (l === 'l5' || l === 'l13' ? l.toUpperCase() : l));
    expect(unifiedDiff('f', text(...lines), text(...apart)).match(/^@@.*$/gm)).toEqual(['@@ -2,7 +2,7 @@', '@@ -10,7 +10,7 @@']);
  });

  it('clips the context at the start and the end of the file', () => {
    const before = text('a', 'b', 'c');
    expect(unifiedDiff('f', before, text('A', 'b', 'c'))).toBe('--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n');
    expect(unifiedDiff('f', before, text('a', 'b', 'C'))).toBe('--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n b\n-c\n+C\n');
  });

  it('counts lines on both sides: insertions shift the new side, deletions the old', () => {
    const before = text(...numbered(12));
    const after = text('new1', 'new2', ...numbered(12).filter((l) => l !== 'l11'));
    expect(unifiedDiff('f', before, after)).toBe(
      ['--- a/f', '+++ b/f', '@@ -1,3 +1,5 @@', '+new1', '+new2', ' l1', ' l2', ' l3', '@@ -8,5 +10,4 @@', ' l8', ' l9', ' l10', '-l11', ' l12', ''].join('\n'),
    );
  });

  it('finds the longest common subsequence in the changed middle', () => {
    // Prefix and suffix differ, so the table decides: keep b and d, drop a, c and e, add x and y.
    expect(unifiedDiff('f', text('a', 'b', 'c', 'd', 'e'), text('x', 'b', 'd', 'y'))).toBe(
      ['--- a/f', '+++ b/f', '@@ -1,5 +1,4 @@', '-a', '+x', ' b', '-c', ' d', '-e', '+y', ''].join('\n'),
    );
    expect(unifiedDiff('f', text('a', 'b'), text('b', 'a'))).toBe('--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n b\n+a\n');
    expect(unifiedDiff('f', text('p', 'a', 'b', 's'), text('p', 'b', 'a', 's'))).toBe('--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n p\n-a\n b\n+a\n s\n');
  });

  it('gives a one-line insertion or deletion in a long file its own short hunk', () => {
    const lines = numbered(20);
    expect(unifiedDiff('f', text(...lines), text(...lines.filter((l) => l !== 'l10')))).toBe('--- a/f\n+++ b/f\n@@ -7,7 +7,6 @@\n l7\n l8\n l9\n-l10\n l11\n l12\n l13\n');
    expect(unifiedDiff('f', text(...lines), text(...lines.slice(0, 9), 'new', ...lines.slice(9)))).toBe('--- a/f\n+++ b/f\n@@ -7,6 +7,7 @@\n l7\n l8\n l9\n+new\n l10\n l11\n l12\n');
  });

  it('finds a repeated line inserted or deleted next to its twin', () => {
    expect(unifiedDiff('f', text('x', 'y'), text('x', 'x', 'y'))).toBe('--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n x\n+x\n y\n');
    expect(unifiedDiff('f', text('x', 'x', 'y'), text('x', 'y'))).toBe('--- a/f\n+++ b/f\n@@ -1,3 +1,2 @@\n x\n-x\n y\n');
  });

  it('on random texts: applying the diff to the old text gives the new one, with as few changed lines as possible', () => {
    /** Length of a longest common subsequence, computed independently of the code under test. */
    const lcs = (a: string[], b: string[]) => {
      const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
      for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) t[i]![j] = a[i - 1] === b[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!);
      return t[a.length]![b.length]!;
    };
    const linesArb = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 12 });
    fc.assert(
      fc.property(linesArb, linesArb, fc.integer({ min: 0, max: 4 }), (a, b, context) => {
        const out = unifiedDiff('f', text(...a), text(...b), context);
        if (out === '') {
          expect(a).toEqual(b);
          return;
        }
        const body = out.split('\n').slice(2, -1);
        // Apply the hunks to a, checking each header against its lines.
        const result: string[] = [];
        let at = 0;
        let k = 0;
        while (k < body.length) {
          const h = /^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$/.exec(body[k]!)!;
          expect(h, body[k]).not.toBeNull();
          const [aStart, aLen, , bLen] = h.slice(1).map(Number) as [number, number, number, number];
          const from = aLen ? aStart - 1 : aStart;
          result.push(...a.slice(at, from));
          at = from;
          let seenA = 0;
          let seenB = 0;
          for (k++; k < body.length && !body[k]!.startsWith('@@'); k++) {
            const [kind, line] = [body[k]![0], body[k]!.slice(1)];
            if (kind !== '+') {
              expect(a[at], 'context and deletions match the old text').toBe(line);
              at++;
              seenA++;
            }
            if (kind !== '-') {
              result.push(line);
              seenB++;
            }
          }
          expect([seenA, seenB]).toEqual([aLen, bLen]);
        }
        result.push(...a.slice(at));
        expect(result).toEqual(b);
        const changes = body.filter((l) => l[0] === '-' || l[0] === '+').length;
        expect(changes).toBe(a.length + b.length - 2 * lcs(a, b));
      }),
      { numRuns: 300, seed: 20261206 },
    );
  });

  it('works out exactly maxEdits changed lines line by line, and shows one more wholesale with its context', () => {
    const h = numbered(5, 1);
    const t = numbered(5, 20);
    const before = text(...h, 'X', 'c1', 'c2', 'W', ...t);
    const after = text(...h, 'Y', 'c1', 'c2', 'Z', ...t);
    // Four changed lines (-X +Y -W +Z): at a limit of 4, two hunks of their own.
    expect(unifiedDiff('f', before, after, 0, 4).match(/^@@.*$/gm)).toEqual(['@@ -6,1 +6,1 @@', '@@ -9,1 +9,1 @@']);
    // At 3, everything from the first to the last difference is replaced, common c1, c2 included, in one hunk with its context.
    expect(unifiedDiff('f', before, after, 1, 3)).toBe(
      ['--- a/f', '+++ b/f', '@@ -5,6 +5,6 @@', ' l5', '-X', '-c1', '-c2', '-W', '+Y', '+c1', '+c2', '+Z', ' l20', ''].join('\n'),
    );
    // Context clipped at both ends of the file; an insertion only; a removed file.
    expect(unifiedDiff('f', text('X', 'c', 'W'), text('Y', 'c', 'Z'), 3, 3)).toBe('--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n-X\n-c\n-W\n+Y\n+c\n+Z\n');
    expect(unifiedDiff('f', text('a', 'z'), text('a', 'n1', 'n2', 'z'), 0, 1)).toBe('--- a/f\n+++ b/f\n@@ -1,0 +2,2 @@\n+n1\n+n2\n');
    expect(unifiedDiff('f', text('a', 'b'), undefined, 3, 1)).toBe('--- a/f\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n');
    // One text the other's start (or end): the common tail does not reach into the common head.
    expect(unifiedDiff('f', text('a', 'b'), text('a', 'b', 'a', 'b'), 0, 1)).toBe('--- a/f\n+++ b/f\n@@ -2,0 +3,2 @@\n+a\n+b\n');
    expect(unifiedDiff('f', text('a', 'b', 'a', 'b'), text('a', 'b'), 1, 1)).toBe('--- a/f\n+++ b/f\n@@ -2,3 +2,1 @@\n b\n-a\n-b\n');
    expect(unifiedDiff('f', text('b', 'a', 'b'), text('a', 'b'), 1, 0)).toBe('--- a/f\n+++ b/f\n@@ -1,2 +1,1 @@\n-b\n a\n');
    // Equal texts are equal whatever the limit.
    expect(unifiedDiff('f', before, before, 3, 0)).toBe('');
  });

  it('works out fewer changed lines in longer texts: changed lines × lines compared stays under MAX_DIFF_WORK', () => {
    expect(MAX_EDIT_LENGTH).toBe(1000);
    expect(MAX_DIFF_WORK).toBe(16_000_000);
    expect(maxEditsFor(0)).toBe(1000);
    expect(maxEditsFor(16_000)).toBe(1000);
    expect(maxEditsFor(16_001)).toBe(999);
    expect(maxEditsFor(400_000)).toBe(40);
    expect(maxEditsFor(16_000_001)).toBe(0);
  });

  it('quotes a file name as git does when it needs it', () => {
    expect(unifiedDiff('café.yaml', 'a\n', 'b\n').split('\n').slice(0, 2)).toEqual(['--- "a/caf\\303\\251.yaml"', '+++ "b/caf\\303\\251.yaml"']);
  });

  it('shows more than MAX_EDIT_LENGTH changed lines wholesale by default', () => {
    // Line by line, keeping c, would take 501 + 501 changes: over 1000, so c is replaced too.
    const out = unifiedDiff('big', text(...numbered(501), 'c'), text('c', ...numbered(501, 5000))).split('\n');
    expect(out[2]).toBe('@@ -1,502 +1,502 @@');
    expect(out.slice(3, 5)).toEqual(['-l1', '-l2']);
    expect(out.slice(503, 507)).toEqual(['-l501', '-c', '+c', '+l5000']);
    expect(out.slice(-2)).toEqual(['+l5500', '']);
  });
});

describe('diffPolicies', () => {
  const doc = (...rules: string[]) => `rules:\n${rules.map((r) => `  - ${r}\n`).join('')}`;

  it('lists rule ids added, removed and changed, and every changed id once, sorted', () => {
    const before = { documents: { 'b.yaml': doc('{ id: r9, effect: allow }', '{ id: r1, effect: deny }', '{ id: same, effect: deny }'), 'a.yaml': doc('{ id: r5, effect: deny }') } };
    const after = { documents: { 'b.yaml': doc('{ id: r1, effect: allow }', '{ id: same, effect: deny }', '{ id: r2, effect: deny }'), 'a.yaml': doc('{ id: r5, effect: deny }', '{ id: r1, effect: deny }') } };
    const d = diffPolicies(before, after);
    expect(d.documents.map((f) => [f.name, f.status, f.rules])).toEqual([
      ['a.yaml', 'changed', { added: ['r1'], removed: [], changed: [] }],
      ['b.yaml', 'changed', { added: ['r2'], removed: ['r9'], changed: ['r1'] }],
    ]);
    expect(d.changed_rules).toEqual(['r1', 'r2', 'r9']);
    expect(d.tests).toEqual([]);
  });

  it('compares rules by value, not by text', () => {
    const before = { documents: { 'a.yaml': doc('{ id: r1, effect: deny, roles: [x, y] }') } };
    const after = { documents: { 'a.yaml': 'rules:\n  - roles: [x, y]\n    effect: deny\n    id: r1\n' } };
    const d = diffPolicies(before, after);
    expect(d.documents[0]!.rules).toEqual({ added: [], removed: [], changed: [] });
    expect(d.documents[0]!.unified).not.toBe('');
    expect(d.changed_rules).toEqual([]);
  });

  it('leaves out unchanged files and reads unreadable documents as having no rules', () => {
    const before = { documents: { 'same.yaml': doc('{ id: r1 }'), 'bad.yaml': doc('{ id: r1 }'), 'odd.yaml': doc('{ id: r3 }', '{ id: r4 }') } };
    const after = {
      documents: {
        'same.yaml': doc('{ id: r1 }'),
        'bad.yaml': 'rules: [\n',
        // Not a list of rules / rules without a string id: no rule ids, only the text diff.
        'odd.yaml': 'rules: { id: r3 }\n',
      },
    };
    const d = diffPolicies(before, after);
    expect(d.documents.map((f) => [f.name, f.status, f.rules])).toEqual([
      ['bad.yaml', 'changed', { added: [], removed: ['r1'], changed: [] }],
      ['odd.yaml', 'changed', { added: [], removed: ['r3', 'r4'], changed: [] }],
    ]);
    const ids = diffPolicies({ documents: { 'a.yaml': doc('~', '{ id: 7 }', 'plain', '{ id: ok }') } }, { documents: {} });
    expect(ids.documents[0]!.rules).toEqual({ added: [], removed: ['ok'], changed: [] });
    expect(diffPolicies({ documents: { 'n.yaml': 'null\n' } }, { documents: {} }).documents[0]!.rules!.removed).toEqual([]);
  });

  it('diffs test files as text only, with their status', () => {
    const d = diffPolicies(
      { documents: {}, tests: { 'old.yaml': 'a\n', 'mod.yaml': 'x\n' } },
      { documents: {}, tests: { 'mod.yaml': 'y\n', 'new.yaml': 'b\n' } },
    );
    expect(d.tests).toEqual([
      { name: 'mod.yaml', status: 'changed', unified: '--- a/mod.yaml\n+++ b/mod.yaml\n@@ -1,1 +1,1 @@\n-x\n+y\n' },
      { name: 'new.yaml', status: 'added', unified: '--- /dev/null\n+++ b/new.yaml\n@@ -0,0 +1,1 @@\n+b\n' },
      { name: 'old.yaml', status: 'removed', unified: '--- a/old.yaml\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a\n' },
    ]);
    expect(diffPolicies({ documents: {} }, { documents: {}, tests: { 't.yaml': 'c\n' } }).tests.map((t) => t.status)).toEqual(['added']);
    expect(diffPolicies({ documents: {}, tests: { 't.yaml': 'c\n' } }, { documents: {} }).tests.map((t) => t.status)).toEqual(['removed']);
  });

  it('reads only own file names (a name like __proto__ or constructor is a file like any other)', () => {
    const before = { documents: JSON.parse('{"constructor": "rules: []\\n"}') as Record<string, string> };
    const after = { documents: {} as Record<string, string> };
    expect(diffPolicies(before, after).documents.map((f) => [f.name, f.status])).toEqual([['constructor', 'removed']]);
    expect(diffPolicies(after, before).documents.map((f) => [f.name, f.status])).toEqual([['constructor', 'added']]);
  });
});
