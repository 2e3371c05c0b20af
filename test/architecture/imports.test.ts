/**
 * The shape of the source tree, checked: no module imports (at run time)
 * a module that imports it back, directly or around a circle. Type-only
 * imports are erased and do not count. (Where SQL may run, and that http/
 * never gets a database handle or the server's entry point, are lint rules:
 * eslint.config.js.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Runtime imports of each file (relative ones; `import type` excluded). */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const deps = [...text.matchAll(/^import (?!type )[^;]*? from '(\.[^']+)'/gm)].map((m) => path.resolve(path.dirname(file), m[1]!));
    g.set(file, deps);
  }
  return g;
}

/** Every import circle, as the list of files around it. */
export function cycles(g: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (u: string) => {
    state.set(u, 'open');
    stack.push(u);
    for (const v of g.get(u) ?? []) {
      if (state.get(v) === 'open') found.push(stack.slice(stack.indexOf(v)));
      else if (!state.has(v) && g.has(v)) visit(v);
    }
    stack.pop();
    state.set(u, 'done');
  };
  for (const u of g.keys()) if (!state.has(u)) visit(u);
  return found;
}

describe('the source tree', () => {
  it('has no import circles', () => {
    const g = graph();
    expect(g.size).toBeGreaterThan(100);
    expect(cycles(g).map((c) => c.map((f) => path.relative(SRC, f)).join(' → '))).toEqual([]);
  });

  it('the circle finder finds a circle (so an empty answer means something)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c']]);
  });
});
