/**
 * A filter form over `useFilters` (ui/filters.ts): its fields, then the
 * button that puts the values in the URL and, unless `clear` is false, one
 * that empties them. `extra` adds buttons beside them (a CSV download).
 */
import type { ComponentChildren } from 'preact';
import { Field } from './Field.tsx';
import { fromLocalInput, toLocalInput, type Filters } from './filters.ts';

export function FilterForm(props: { label: string; filters: Filters; submit?: string; clear?: boolean; extra?: ComponentChildren; children: ComponentChildren }) {
  const { filters: f, clear = true } = props;
  return (
    <form
      class="filters"
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        f.apply();
      }}
    >
      {props.children}
      <div class="actions">
        <button type="submit">{props.submit ?? 'Search'}</button>
        {clear && (
          <button type="button" class="secondary" onClick={f.clear}>
            Clear
          </button>
        )}
        {props.extra}
      </div>
    </form>
  );
}

/** "From" and "To" as local date-times, kept in the filters' `from` and `to` as instants. */
export function PeriodFields({ filters: f }: { filters: Filters }) {
  return (
    <>
      <Field label="From" type="datetime-local" value={toLocalInput(f.values.from)} onValue={(v) => f.set('from')(fromLocalInput(v) ?? '')} />
      <Field label="To" type="datetime-local" value={toLocalInput(f.values.to)} onValue={(v) => f.set('to')(fromLocalInput(v) ?? '')} />
    </>
  );
}
