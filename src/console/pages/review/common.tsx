/**
 * What the reviewers' pages share: filter forms whose values live in the
 * URL (so a search is a link), local date-time inputs turned into ISO 8601
 * instants, principals shown by name, and principals found by name.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client.ts';
import { navigate } from '../../router.tsx';
import type { Principal } from '../../api/types.ts';

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

// Names of principals by id, fetched once per page load (the catalog: `catalog:read`, which reviewers hold).
const names = new Map<string, Promise<string | undefined>>();
function nameOf(id: string): Promise<string | undefined> {
  let p = names.get(id);
  if (!p) {
    p = api<{ name: string }>('GET', `/v1/principals/${encodeURIComponent(id)}`).then(
      (r) => r.name,
      () => undefined,
    );
    names.set(id, p);
  }
  return p;
}

/** A principal by name (the id on hover); the bare id when the name cannot be read. */
export function PrincipalName({ id }: { id: string | null | undefined }) {
  const [name, setName] = useState<string>();
  useEffect(() => {
    let live = true;
    if (id) void nameOf(id).then((n) => live && setName(n));
    return () => void (live = false);
  }, [id]);
  if (!id) return <span>—</span>;
  return <span title={id}>{name ?? <code>{id}</code>}</span>;
}

/** What a name given in a filter stands for: one principal, several to choose from, or none. */
export type Resolved = { principal: Principal } | { choices: Principal[] } | { none: true };

/**
 * Finds a principal by name: the exact name if there is one, else the only
 * name starting with it; several starts are offered as choices.
 */
export async function resolvePrincipal(name: string, signal?: AbortSignal): Promise<Resolved> {
  const wanted = name.trim().toLowerCase();
  const page = await api<{ items: Principal[] }>('GET', '/v1/principals', { query: { name: wanted, limit: 20 }, signal });
  const exact = page.items.find((p) => p.name === wanted);
  if (exact) return { principal: exact };
  if (page.items.length === 1) return { principal: page.items[0]! };
  if (page.items.length === 0) return { none: true };
  return { choices: page.items };
}

/** Principals whose name starts with the text, for a datalist while typing. */
export function useNameSuggestions(text: string): Principal[] {
  const [list, setList] = useState<Principal[]>([]);
  useEffect(() => {
    const t = text.trim().toLowerCase();
    if (t.length < 2) return setList([]);
    const ctl = new AbortController();
    const timer = setTimeout(() => {
      api<{ items: Principal[] }>('GET', '/v1/principals', { query: { name: t, limit: 10 }, signal: ctl.signal }).then(
        (r) => setList(r.items),
        (e: unknown) => void (e instanceof ApiError && setList([])),
      );
    }, 250);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [text]);
  return list;
}

/** A value as JSON, for the parts of a record with no fixed shape. */
export function Json({ value }: { value: unknown }) {
  return <pre>{JSON.stringify(value, null, 2)}</pre>;
}

/** A list, or "none". */
export function Items<T>({ items, none = 'None', render }: { items: T[]; none?: string; render?: (t: T) => ComponentChildren }) {
  if (!items.length) return <p class="muted">{none}</p>;
  return (
    <ul>
      {items.map((t, i) => (
        <li key={i}>{render ? render(t) : String(t)}</li>
      ))}
    </ul>
  );
}

export const yesNo = (b: boolean) => (b ? 'Yes' : 'No');
