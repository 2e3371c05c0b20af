/**
 * Minimum necessary (§164.502(b), §164.514(d)): which columns a rule grants.
 *
 * A decision asks two things of each requested column: is it one of the
 * dataset's columns, and does an applicable allow's selector grant it. Both
 * are answered from one map of the dataset's columns, name → identifier
 * category, which the facts layer builds with the columns
 * (`DatasetFacts.columnCategories`), and from the selector itself (its
 * names or categories, as sets). Nothing is kept per dataset and selector:
 * with many datasets such a memo is a table of every dataset to look up,
 * far away in memory, on every allow.
 */
import type { ColumnSelector } from './snapshot.ts';
import type { Category, ColumnFacts, DatasetFacts } from './types.ts';

/** A dataset's columns, name → identifier category (null: not an identifier). */
export type ColumnCategories = ReadonlyMap<string, Category | null>;

/**
 * The map of a dataset's columns, for its facts' `columnCategories`. A name
 * listed twice throws (the catalog and policy test files refuse them): which
 * of its two categories would a selector read? A decision on such a dataset
 * fails rather than guess.
 */
export function columnCategories(columns: readonly ColumnFacts[]): ColumnCategories {
  const map = new Map<string, Category | null>();
  for (const c of columns) {
    if (map.has(c.name)) throw new Error(`column ${c.name} is listed twice`);
    map.set(c.name, c.category || null);
  }
  return map;
}

/** For facts without `columnCategories`: built once per column list (immutable, like the facts). */
const built = new WeakMap<readonly ColumnFacts[], ColumnCategories>();

function categoriesOf(dataset: Pick<DatasetFacts, 'columns' | 'columnCategories'>): ColumnCategories {
  if (dataset.columnCategories) return dataset.columnCategories;
  let map = built.get(dataset.columns);
  if (!map) built.set(dataset.columns, (map = columnCategories(dataset.columns)));
  return map;
}

/** Whether `name` is one of the dataset's columns. */
export function isColumn(dataset: Pick<DatasetFacts, 'columns' | 'columnCategories'>, name: string): boolean {
  return categoriesOf(dataset).has(name);
}

/** Whether `selector` grants the dataset's column `name`: never a name that is not one of its columns. */
export function grantsColumn(selector: ColumnSelector, dataset: Pick<DatasetFacts, 'columns' | 'columnCategories'>, name: string): boolean {
  const category = categoriesOf(dataset).get(name);
  if (category === undefined) return false;
  switch (selector.kind) {
    case 'all':
      return true;
    case 'non-identifiers':
      return category === null;
    case 'include':
      return selector.columns.has(name);
    case 'except-categories':
      return category === null || !selector.categories.has(category);
  }
}
