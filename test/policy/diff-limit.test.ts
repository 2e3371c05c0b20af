/**
 * The diff's table at its real size: a changed middle of 4,000 × 4,000
 * lines (16,000,000 cells) is still compared line by line, one line more is
 * shown wholesale. Seconds of work, so mutation runs leave this file out
 * (vitest.mutation.config.ts); the boundary itself is tested with a small
 * table in diff.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MAX_DIFF_CELLS, unifiedDiff } from '../../src/policy/diff.ts';

const text = (...lines: string[]) => lines.map((l) => `${l}\n`).join('');
const numbered = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `l${i + from}`);

describe('unifiedDiff at the real table limit', () => {
  it('is 16,000,000 cells', () => {
    expect(MAX_DIFF_CELLS).toBe(4000 * 4000);
  });

  it('compares a changed middle of 4,000 × 4,000 lines (16,000,000 cells, the largest table) line by line', () => {
    // The middles (between the common head and tail) share c1..c3998: line by line, only the first and last lines change.
    const c = numbered(3999).map((l) => `c${l.slice(1)}`);
    const before = text('head', 'X', ...c, 'tail');
    const after = text('head', 'Y', ...c.slice(0, -1), 'Z', 'tail');
    const out = unifiedDiff('f', before, after).split('\n');
    expect(out.filter((l) => l.startsWith('@@'))).toEqual(['@@ -1,5 +1,5 @@', '@@ -3998,5 +3998,5 @@']);
    expect(out.slice(2, 9)).toEqual(['@@ -1,5 +1,5 @@', ' head', '-X', '+Y', ' c1', ' c2', ' c3']);
    expect(out.slice(9)).toEqual(['@@ -3998,5 +3998,5 @@', ' c3996', ' c3997', ' c3998', '-c3999', '+Z', ' tail', '']);
  });

  it('replaces a middle of 4,000 × 4,001 lines (one cell over the table) wholesale, common lines included', () => {
    const c = numbered(3999).map((l) => `c${l.slice(1)}`);
    const out = unifiedDiff('f', text('head', 'X', ...c, 'tail'), text('head', 'Y', ...c, 'Z', 'tail')).split('\n');
    expect(out.filter((l) => l.startsWith('@@'))).toEqual(['@@ -1,4002 +1,4003 @@']);
    expect(out.filter((l) => l.startsWith('-') && !l.startsWith('---'))).toHaveLength(4000);
    expect(out.filter((l) => l.startsWith('+') && !l.startsWith('+++'))).toHaveLength(4001);
    expect(out.slice(3, 6)).toEqual([' head', '-X', '-c1']);
  });

});
