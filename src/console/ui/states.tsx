/** Loading, empty and error states, the same on every page. */
import type { ComponentChildren } from 'preact';
import { ApiError } from '../api/client.ts';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="state" role="status" aria-live="polite">
      {label}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) {
    const extra = err.problem.errors?.map((e) => `${e.path}: ${e.message}`).join('; ');
    return `${err.message}${extra ? ` (${extra})` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export function ErrorNote({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const id = error instanceof ApiError ? error.problem.request_id : undefined;
  return (
    <div class="error" role="alert">
      <p>{messageOf(error)}</p>
      {id && <p class="muted">Request id {id}</p>}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
