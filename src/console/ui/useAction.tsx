/**
 * One action at a time (a button's POST, a download): busy while it runs,
 * then what it returned as a status or its error, announced politely / as an
 * alert by `Outcome`. Every area's action buttons use it.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { messageOf } from './states.tsx';

/** Runs one action at a time; `run(f)` shows what `f` returns as the status, or its error. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [status, setStatus] = useState<ComponentChildren>();
  const run = async (f: () => Promise<ComponentChildren | void>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    setStatus(undefined);
    try {
      const done = await f();
      if (done) setStatus(done);
      return true;
    } catch (e) {
      setError(messageOf(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, status, run, setStatus, setError };
}

/** The outcome of the last action: a polite status, or an alert. */
export function Outcome({ status, error }: { status?: ComponentChildren; error?: string }) {
  return (
    <>
      <div aria-live="polite">{status && <p class="notice">{status}</p>}</div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
