/**
 * The column checks read the map of a dataset's columns (name → identifier
 * category) that its facts carry, as the facts layer builds them, and a map
 * built per column list otherwise. Both must say exactly what "is one of the
 * dataset's columns" and "the rule's selector grants it" say, for every
 * string a request can hold (a name's prefix or suffix, two names joined, a
 * NUL, the empty string) and every selector.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { columnCategories, grantsColumn, isColumn } from '../../src/engine/columns.ts';
import { PolicyTestFile } from '../../src/policy/policyTests.ts';
import { decide } from '../../src/engine/decide.ts';
import type { ColumnSelector } from '../../src/engine/snapshot.ts';
import type { ColumnFacts } from '../../src/engine/types.ts';
import { datasetFacts } from '../../src/decisions/buildFacts.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { dataset, principal, request } from './support.ts';

const CATEGORIES = ['names', 'dates', 'mrn', 'ssn'];
const identifier = fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/);
/** A column's category: one of the four, none, or an empty string (which, like none, is not an identifier). */
const categoryArb = fc.oneof(fc.constantFrom(...CATEGORIES), fc.constant(undefined), fc.constant(''));
const columnsArb = fc.uniqueArray(fc.record({ name: identifier, category: categoryArb }), {
  minLength: 1,
  maxLength: 8,
  selector: (c) => c.name,
});

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
    fc.constantFrom('', '\0'),
  );
}

/** The rule forms of `columns:` in a policy document. */
const specArb = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('all', 'non-identifiers'),
  fc.uniqueArray(identifier, { minLength: 1, maxLength: 5 }).map((include) => ({ include })),
  fc.uniqueArray(fc.constantFrom(...CATEGORIES), { minLength: 1, maxLength: 3 }).map((except_categories) => ({ except_categories })),
);

/** What a selector grants, by its definition: columns of the dataset, all / without a category / named / not of a category named. */
function reference(spec: unknown, columns: readonly ColumnFacts[]): string[] {
  if (spec === 'all') return columns.map((c) => c.name);
  if (spec === undefined || spec === 'non-identifiers') return columns.filter((c) => !c.category).map((c) => c.name);
  if (typeof spec === 'object' && spec && 'include' in spec) return columns.filter((c) => (spec.include as string[]).includes(c.name)).map((c) => c.name);
  const drop = (spec as { except_categories: string[] }).except_categories;
  return columns.filter((c) => !c.category || !drop.includes(c.category)).map((c) => c.name);
}

/** The selector the policy compiler gives a rule with `columns: spec`. */
function compiledSelector(spec: unknown): ColumnSelector {
  const rule = { id: 'x', effect: 'allow', roles: ['r0'], actions: ['dataset:read'], ...(spec === undefined ? {} : { columns: spec }) };
  return compilePolicy({ documents: [{ name: 'r.yaml', text: '', value: { rules: [rule] } }], roles: [{ id: 'r0', inherits: [] }] }).rules[0]!.columns;
}

describe('column checks', () => {
  it('isColumn gives exact membership, through the facts\' map and through one built per column list alike', () => {
    fc.assert(
      fc.property(
        columnsArb.chain((cs) => fc.tuple(fc.constant(cs), fc.array(asked(cs.map((c) => c.name)), { minLength: 1, maxLength: 12 }))),
        ([columns, requests]) => {
          const withMap = { columns, columnCategories: columnCategories(columns) };
          const without = { columns };
          for (const name of requests) {
            const truth = columns.some((c) => c.name === name);
            expect(isColumn(withMap, name), JSON.stringify(name)).toBe(truth);
            expect(isColumn(without, name), JSON.stringify(name)).toBe(truth);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('grantsColumn grants exactly the columns the selector\'s definition does, and no name that is not a column', () => {
    fc.assert(
      fc.property(
        columnsArb.chain((cs) => fc.tuple(fc.constant(cs), specArb, fc.array(asked(cs.map((c) => c.name)), { maxLength: 8 }))),
        ([columns, spec, extra]) => {
          const selector = compiledSelector(spec);
          const granted = reference(spec, columns);
          for (const ds of [{ columns, columnCategories: columnCategories(columns) }, { columns }]) {
            for (const name of [...columns.map((c) => c.name), ...extra]) {
              expect(grantsColumn(selector, ds, name), `${JSON.stringify(spec)} ${JSON.stringify(name)}`).toBe(granted.includes(name));
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the facts\' map is the one read: a column missing from it is unknown and granted by nothing, whatever the column list says', () => {
    const columns: ColumnFacts[] = [{ name: 'a' }, { name: 'b' }];
    expect(isColumn({ columns }, 'b')).toBe(true);
    expect(grantsColumn({ kind: 'all' }, { columns }, 'b')).toBe(true);
    const partial = { columns, columnCategories: new Map([['a', null]]) };
    expect(isColumn(partial, 'b')).toBe(false);
    expect(grantsColumn({ kind: 'all' }, partial, 'b')).toBe(false);
  });

  it('the category the facts\' map gives is the one a selector reads', () => {
    const columns: ColumnFacts[] = [{ name: 'a' }];
    const asMrn = { columns, columnCategories: new Map([['a', 'mrn']]) };
    expect(grantsColumn({ kind: 'non-identifiers' }, { columns }, 'a')).toBe(true);
    expect(grantsColumn({ kind: 'non-identifiers' }, asMrn, 'a')).toBe(false);
    expect(grantsColumn({ kind: 'except-categories', categories: new Set(['mrn']) }, asMrn, 'a')).toBe(false);
  });

  it('a column listed twice makes the map, and so any decision on the dataset, fail: no category is guessed', () => {
    const twice: ColumnFacts[] = [{ name: 'a' }, { name: 'a', category: 'ssn' }];
    expect(() => columnCategories(twice)).toThrow(/listed twice/);
    const snapshot = compilePolicy({
      documents: [{ name: 'r.yaml', text: '', value: { rules: [{ id: 'plain', effect: 'allow', roles: ['r0'], actions: ['dataset:read'], columns: 'non-identifiers' }] } }],
      roles: [{ id: 'r0', inherits: [] }],
    });
    const p = principal('u0', { roles: [{ role: 'r0', project: null }] });
    expect(() => decide(request(p, dataset('d0', { columns: twice }), { columns: ['a'] }), snapshot)).toThrow(/listed twice/);
  });

  it('a policy test file may not list a column of a dataset twice', () => {
    const file = (columns: unknown[]) => ({
      description: 'x',
      now: '2026-06-01T12:00:00Z',
      principals: {},
      datasets: { d0: { project: 'p0', classification: 'deidentified', purposes: ['model-training'], columns } },
      cases: [{ name: 'c', input: { principal: 'u0', dataset: 'd0', columns: ['a'] }, expect: { effect: 'deny' } }],
    });
    expect(PolicyTestFile.safeParse(file(['a', { name: 'b', category: 'ssn' }])).success).toBe(true);
    const twice = PolicyTestFile.safeParse(file(['a', { name: 'a', category: 'ssn' }]));
    expect(twice.success).toBe(false);
    expect(JSON.stringify(twice.error?.issues)).toContain('column names must be unique');
  });

  it('decide() answers the same with and without the facts\' map, and allows exactly what the selectors grant', () => {
    fc.assert(
      fc.property(
        columnsArb.chain((cs) => fc.tuple(fc.constant(cs), fc.array(specArb, { minLength: 1, maxLength: 3 }), fc.array(asked(cs.map((c) => c.name)), { minLength: 1, maxLength: 5 }))),
        ([columns, specs, requested]) => {
          const rules = specs.map((spec, i) => ({ id: `r${i}`, effect: 'allow', roles: ['r0'], actions: ['dataset:read'], ...(spec === undefined ? {} : { columns: spec }) }));
          const snapshot = compilePolicy({ documents: [{ name: 'r.yaml', text: '', value: { rules } }], roles: [{ id: 'r0', inherits: [] }] });
          const p = principal('u0', { roles: [{ role: 'r0', project: null }] });
          const bare = dataset('d0', { columns });
          const mapped = { ...bare, columnCategories: columnCategories(columns) };
          const a = decide(request(p, bare, { columns: requested }), snapshot);
          const b = decide(request(p, mapped, { columns: requested }), snapshot);
          expect(b).toEqual(a);
          const granted = new Set(specs.flatMap((spec) => reference(spec, columns)));
          expect(a.effect).toBe(requested.every((c) => granted.has(c)) ? 'allow' : 'deny');
          if (a.effect === 'deny' && requested.every((c) => columns.some((col) => col.name === c))) {
            expect(a.grantedColumns).toEqual(columns.map((c) => c.name).filter((c) => granted.has(c)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the facts layer gives each dataset the map of exactly its columns', () => {
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
    expect([...facts.columnCategories!]).toEqual([
      ['mrn', 'mrn'],
      ['age', null],
      ['note', null],
    ]);
  });
});
