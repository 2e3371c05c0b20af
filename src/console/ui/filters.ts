/**
 * Filter forms whose values live in the URL query, so a search is a link
 * (and Back leaves the page rather than undoing the last filter), and the
 * `datetime-local` inputs they use turned into ISO 8601 instants.
 */
import { useEffect, useState } from 'preact/hooks';
import { navigate } from '../router.tsx';

/** An ISO instant as the value of a `datetime-local` input, in the viewer's zone. */
export function toLocalInput(iso: string | undefined | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A `datetime-local` value (the viewer's zone) as an ISO instant, or undefined when empty. */
export function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The named query parameters, as a plain object (empty ones left out). */
export function pick(query: URLSearchParams, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = query.get(k);
    if (v) out[k] = v;
  }
  return out;
}

/**
 * A filter form's values: edited locally, applied by putting them in the URL
 * (replacing the entry, so Back leaves the page rather than the last filter).
 */
export function useFilters(path: string, query: URLSearchParams, keys: readonly string[]) {
  const applied = pick(query, keys);
  const [values, setValues] = useState<Record<string, string>>(applied);
  const key = JSON.stringify(applied);
  useEffect(() => setValues(applied), [key]);
  return {
    values,
    applied,
    set: (k: string) => (v: string) => setValues((old) => ({ ...old, [k]: v })),
    apply: (extra: Record<string, string | undefined> = {}) => navigate(path, { ...values, ...extra }, true),
    clear: () => navigate(path, {}, true),
  };
}

export type Filters = ReturnType<typeof useFilters>;
