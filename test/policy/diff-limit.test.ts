/**
 * The diff's limits at their real size: up to MAX_EDIT_LENGTH changed lines
 * are worked out line by line, one more is shown wholesale; in long texts
 * the limit shrinks so that changed lines × lines stays under
 * MAX_DIFF_WORK. Hundreds of milliseconds each, so mutation runs leave this
 * file out (vitest.mutation.config.ts); the boundary itself is tested with
 * a small limit in diff.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { maxEditsFor, unifiedDiff } from '../../src/policy/diff.ts';

const text = (...lines: string[]) => lines.map((l) => `${l}\n`).join('');
const numbered = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `l${i + from}`);

/** Texts whose line-by-line diff changes `edits` lines and keeps a common line `c` between them; `pad` common lines around. */
function changed(edits: number, pad = 0): [string, string] {
  const half = Math.floor(edits / 4);
  const common = numbered(pad, 100_000);
  const before = [...common, ...numbered(half, 1), 'c', ...numbered(edits / 2 - half, 10_000), ...common];
  const after = [...common, ...numbered(half, 20_000), 'c', ...numbered(edits / 2 - half, 30_000), ...common];
  return [text(...before), text(...after)];
}

const kept = (out: string) => out.split('\n').includes(' c');

describe('unifiedDiff at the real limits', () => {
  it('works out 1,000 changed lines line by line, and shows 1,002 wholesale', () => {
    const [a, b] = changed(1000);
    const at = unifiedDiff('f', a, b);
    expect(kept(at)).toBe(true);
    expect(at.split('\n').filter((l) => /^[-+](?![-+]{2} )/.test(l))).toHaveLength(1000);
    const [c, d] = changed(1002);
    const over = unifiedDiff('f', c, d);
    expect(kept(over)).toBe(false);
    expect(over.split('\n').filter((l) => l === '-c' || l === '+c')).toEqual(['-c', '+c']);
  });

  it('in 20,002 lines (a limit of 799) works out 796 changed lines, and shows 800 wholesale', () => {
    // The changed lines between 4,800 common lines at each end, on each side.
    const [a, b] = changed(800, 4800);
    expect(a.split('\n').length - 1 + b.split('\n').length - 1).toBe(20_002);
    expect(maxEditsFor(20_002)).toBe(799);
    const [c, d] = changed(796, 4800);
    expect(kept(unifiedDiff('f', c, d))).toBe(true);
    expect(kept(unifiedDiff('f', a, b))).toBe(false);
  });
});
