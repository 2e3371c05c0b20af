/**
 * The check of requested column names reads the set of names the dataset's
 * facts carry, as the facts layer builds them, and a set memoised per column
 * list otherwise. Both must say exactly what "is one of the dataset's column
 * names" says, for every string a request can hold: a name's prefix or
 * suffix, two names joined, a NUL, the empty string.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { columnNameSet, isColumn } from '../../src/engine/columns.ts';
import { decide } from '../../src/engine/decide.ts';
import type { ColumnFacts } from '../../src/engine/types.ts';
import { datasetFacts } from '../../src/decisions/buildFacts.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { dataset, principal, request } from './support.ts';

const identifier = fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/);
const names = fc.uniqueArray(identifier, { minLength: 1, maxLength: 8 });

/** Strings a request may ask for, built from the dataset's names so that near misses are common. */
function asked(ns: readonly string[]): fc.Arbitrary<string> {
  const some = fc.constantFrom(...ns);
  return fc.oneof(
    some,
    identifier,
    some.map((n) => n.slice(0, -1)),
    some.map((n) => n.slice(1)),
    some.map((n) => `${n}x`),
    fc.nat({ max: Math.max(0, ns.length - 2) }).map((i) => `${ns[i]}\0${ns[i + 1] ?? ''}`),
    some.map((n) => `\0${n}`),
    some.map((n) => `${n}\0`),
    fc.constantFrom('', '\0', '\0\0'),
  );
}

const columnsOf = (ns: readonly string[]): ColumnFacts[] => ns.map((name) => ({ name }));

describe('column names', () => {
  it('isColumn gives exact membership, through the facts\' set and through the memoised one alike', () => {
    fc.assert(
      fc.property(
        names.chain((ns) => fc.tuple(fc.constant(ns), fc.array(asked(ns), { minLength: 1, maxLength: 12 }))),
        ([ns, requests]) => {
          const columns = columnsOf(ns);
          const withList = { columns, columnNames: columnNameSet(columns) };
          const withSet = { columns };
          for (const name of requests) {
            const truth = ns.includes(name);
            expect(isColumn(withList, name), JSON.stringify(name)).toBe(truth);
            expect(isColumn(withSet, name), JSON.stringify(name)).toBe(truth);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the facts\' set is the one read: a name missing from it is unknown, whatever the memo would say', () => {
    const columns = columnsOf(['a', 'b']);
    expect(isColumn({ columns }, 'b')).toBe(true);
    expect(isColumn({ columns, columnNames: new Set(['a']) }, 'b')).toBe(false);
  });

  it('decide() refuses the same unknown columns with and without the facts\' set', () => {
    const snapshot = compilePolicy({
      documents: [{ name: 'r.yaml', text: '', value: { rules: [{ id: 'all', effect: 'allow', roles: ['r0'], actions: ['dataset:read'], columns: 'all' }] } }],
      roles: [{ id: 'r0', inherits: [] }],
    });
    const p = principal('u0', { roles: [{ role: 'r0', project: null }] });
    fc.assert(
      fc.property(
        names.chain((ns) => fc.tuple(fc.constant(ns), fc.array(asked(ns), { minLength: 1, maxLength: 6 }))),
        ([ns, requested]) => {
          const bare = dataset('d0', { columns: columnsOf(ns) });
          const listed = { ...bare, columnNames: columnNameSet(bare.columns) };
          const a = decide(request(p, bare, { columns: requested }), snapshot);
          const b = decide(request(p, listed, { columns: requested }), snapshot);
          expect(b).toEqual(a);
          expect(a.effect).toBe(requested.every((c) => ns.includes(c)) ? 'allow' : 'deny');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the facts layer gives each dataset the set of exactly its column names', () => {
    const facts = datasetFacts(
      {
        id: 'd0',
        project: 'p0',
        owner: 'owner',
        purposes: ['model-training'],
        columns: [{ name: 'mrn', category: 'mrn' }, { name: 'age' }, { name: 'note' }],
        expertDetermination: null,
        dataUseAgreement: null,
        audience: null,
      },
      '2026-06-01',
    );
    expect([...facts.columnNames!]).toEqual(['mrn', 'age', 'note']);
  });
});
