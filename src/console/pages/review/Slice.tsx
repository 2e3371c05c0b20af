/**
 * A long list the server sends whole (a report), shown a page at a time in
 * the browser, with the same pager as the keyset-paged lists.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

export function Slice<T>({ items, size = 100, label, children }: { items: T[]; size?: number; label: string; children: (items: T[]) => ComponentChildren }) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(items.length / size));
  const at = Math.min(page, pages - 1);
  return (
    <div>
      {children(items.slice(at * size, (at + 1) * size))}
      {pages > 1 && (
        <nav class="pager" aria-label={`Pages of ${label}`}>
          <button type="button" disabled={at === 0} onClick={() => setPage(at - 1)}>
            Previous page
          </button>
          <span>
            Page {at + 1} of {pages}
          </span>
          <button type="button" disabled={at >= pages - 1} onClick={() => setPage(at + 1)}>
            Next page
          </button>
        </nav>
      )}
    </div>
  );
}
