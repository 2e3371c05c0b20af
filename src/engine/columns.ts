/**
 * Minimum necessary (§164.502(b), §164.514(d)): which columns a rule grants.
 */
import type { ColumnSelector } from './snapshot.ts';
import type { ColumnFacts } from './types.ts';

/** The names of the dataset columns a selector grants. */
export function selectColumns(selector: ColumnSelector, columns: readonly ColumnFacts[]): string[] {
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
