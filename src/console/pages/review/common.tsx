/**
 * What the reviewers' pages share: principals found by name (filters name
 * people, the API takes ids), and values shown as JSON, lists and yes/no.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client.ts';
import type { Principal } from '../../api/types.ts';

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
