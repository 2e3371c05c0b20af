/**
 * Minimum necessary (§164.502(b), §164.514(d)): which columns a rule grants.
 */
import type { ColumnSelector } from './snapshot.ts';
import type { ColumnFacts } from './types.ts';

const selected = new WeakMap<ColumnSelector, WeakMap<readonly ColumnFacts[], ReadonlySet<string>>>();

/**
 * The names of the dataset columns a selector grants. Memoised per selector
 * and column list: both are immutable (a compiled rule's selector, shared by
 * every rule selecting the same columns, and a dataset's facts), and a busy
 * decision path asks the same question over and over.
 */
export function selectColumns(selector: ColumnSelector, columns: readonly ColumnFacts[]): ReadonlySet<string> {
  let bySelector = selected.get(selector);
  if (!bySelector) selected.set(selector, (bySelector = new WeakMap()));
  let names = bySelector.get(columns);
  if (!names) bySelector.set(columns, (names = new Set(computeColumns(selector, columns))));
  return names;
}

/** The names of the columns of a dataset, as a set (memoised like {@link selectColumns}). */
export function columnNames(columns: readonly ColumnFacts[]): ReadonlySet<string> {
  let names = known.get(columns);
  if (!names) known.set(columns, (names = new Set(columns.map((c) => c.name))));
  return names;
}
const known = new WeakMap<readonly ColumnFacts[], ReadonlySet<string>>();

function computeColumns(selector: ColumnSelector, columns: readonly ColumnFacts[]): string[] {
  switch (selector.kind) {
    case 'all':
      return columns.map((c) => c.name);
    case 'non-identifiers':
      return columns.filter((c) => !c.category).map((c) => c.name);
    case 'include': {
      const want = new Set(selector.columns);
      return columns.filter((c) => want.has(c.name)).map((c) => c.name);
    }
    case 'except-categories': {
      const drop = new Set(selector.categories);
      return columns.filter((c) => !c.category || !drop.has(c.category)).map((c) => c.name);
    }
  }
}
