/**
 * Minimum necessary (§164.502(b), §164.514(d)): which columns a rule grants.
 */
import type { ColumnSelector } from './snapshot.ts';
import type { ColumnFacts, DatasetFacts } from './types.ts';

/** What is known of one dataset's columns: their names, and the names each selector grants. */
interface ColumnIndex {
  names: ReadonlySet<string>;
  /** Weak: a selector belongs to one policy version, and goes with it. */
  selected: WeakMap<ColumnSelector, ReadonlySet<string>>;
}

/** Per column list: both it and the selectors are immutable (a dataset's facts, a compiled rule's selector). */
const indexes = new WeakMap<readonly ColumnFacts[], ColumnIndex>();

/**
 * The index of a dataset's columns, built once per column list. One lookup
 * per decision finds both the names and every selector's answer: keyed by
 * selector first, the second lookup would be in a table of every dataset,
 * far away in memory.
 */
function indexOf(columns: readonly ColumnFacts[]): ColumnIndex {
  let index = indexes.get(columns);
  if (!index) indexes.set(columns, (index = { names: new Set(columns.map((c) => c.name)), selected: new WeakMap() }));
  return index;
}

/**
 * The names of the dataset columns a selector grants. Memoised per column
 * list and selector: a busy decision path asks the same question over and
 * over.
 */
export function selectColumns(selector: ColumnSelector, columns: readonly ColumnFacts[]): ReadonlySet<string> {
  const index = indexOf(columns);
  let names = index.selected.get(selector);
  if (!names) index.selected.set(selector, (names = new Set(computeColumns(selector, columns))));
  return names;
}

/**
 * Whether `name` is one of the dataset's columns: in the set of names the
 * facts carry (`columnNames`, built by the facts layer with the columns),
 * else in a set memoised per column list. Every decision asks this of each
 * requested name: with many datasets, the memo's lookup (a table of every
 * column list, then the list's index) is two reads far apart in memory that
 * the facts' own set does not need.
 */
export function isColumn(dataset: Pick<DatasetFacts, 'columns' | 'columnNames'>, name: string): boolean {
  return (dataset.columnNames ?? indexOf(dataset.columns).names).has(name);
}

/** The set of a dataset's column names, for its facts' `columnNames`. */
export function columnNameSet(columns: readonly ColumnFacts[]): ReadonlySet<string> {
  return new Set(columns.map((c) => c.name));
}

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
