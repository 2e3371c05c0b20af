/**
 * A keyset-paged list (`{items, next_cursor}`): the page's rows, then
 * "Previous page" / "Next page". Earlier cursors are kept in memory, so
 * going back is exact even while new rows arrive at the top.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, type CallOptions } from '../api/client.ts';
import { Empty, ErrorNote, Loading } from './states.tsx';
import { useLoad } from './useLoad.ts';

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export function Paged<T>(props: {
  path: string;
  query?: CallOptions['query'];
  limit?: number;
  empty: ComponentChildren;
  /** Which list this is, for the pager's label ("decisions"). */
  label: string;
  children: (items: T[]) => ComponentChildren;
}) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const key = JSON.stringify([props.path, props.query]);
  const [seenKey, setSeenKey] = useState(key);
  if (seenKey !== key) {
    // New filters: back to the first page.
    setSeenKey(key);
    setCursors([undefined]);
  }
  const cursor = cursors[cursors.length - 1];
  const page = useLoad<Page<T>>(
    (signal) => api('GET', props.path, { query: { ...props.query, limit: props.limit ?? 50, cursor }, signal }),
    [key, cursor],
  );
  if (page.error) return <ErrorNote error={page.error} onRetry={page.reload} />;
  if (!page.data) return <Loading />;
  const { items, next_cursor } = page.data;
  return (
    <div aria-busy={page.loading}>
      {items.length === 0 && cursors.length === 1 ? <Empty>{props.empty}</Empty> : props.children(items)}
      <nav class="pager" aria-label={`Pages of ${props.label}`}>
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {cursors.length}</span>
        <button type="button" disabled={!next_cursor} onClick={() => next_cursor && setCursors([...cursors, next_cursor])}>
          Next page
        </button>
      </nav>
    </div>
  );
}
