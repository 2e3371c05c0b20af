/**
 * Every transaction goes through src/db/transaction.ts: postgres.js's own
 * `sql.begin` crashes the process when its connection dies mid-transaction
 * (porsager/postgres#1208; test/db/transaction.test.ts shows both). A change
 * store's `begin` (src/changes/store.ts) is one of those callers, built on it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** `x.begin(` calls on anything but a change store, outside the helper itself: file and line. */
export function directBegins(files: { name: string; text: string }[]): string[] {
  return files.flatMap(({ name, text }) =>
    text.split('\n').flatMap((line, i) => (/(?<!\bstore)\.begin\(/.test(line) && !/^\s*(\*|\/\/)/.test(line) ? [`${name}:${i + 1}`] : [])),
  );
}

describe('transactions', () => {
  it('are opened through transaction(), never sql.begin', () => {
    const files = sources(SRC)
      .filter((f) => path.relative(SRC, f) !== path.join('db', 'transaction.ts'))
      .map((f) => ({ name: path.relative(SRC, f), text: readFileSync(f, 'utf8') }));
    expect(files.length).toBeGreaterThan(100);
    expect(directBegins(files)).toEqual([]);
  });

  it('the scan finds a direct begin (so an empty answer means something)', () => {
    const text = "await sql.begin(async (tx) => {});\nawait deps.store.begin((t) => t);\n// sql.begin( in a comment\nthis.o.sql.begin(fn)";
    expect(directBegins([{ name: 'x.ts', text }])).toEqual(['x.ts:1', 'x.ts:4']);
  });
});
