/**
 * A button that downloads a report (through `download()`, so the session and
 * the step-up dialog apply), busy while it runs; a failure is shown beside
 * it as an alert.
 */
import { download, type CallOptions } from '../api/client.ts';
import { useAction } from './useAction.tsx';

export function DownloadButton(props: { path: string; query: CallOptions['query']; filename: string; label?: string; secondary?: boolean }) {
  const { busy, error, run } = useAction();
  return (
    <>
      <button type="button" class={props.secondary ? 'secondary' : undefined} disabled={busy} onClick={() => void run(() => download(props.path, props.query, props.filename))}>
        {props.label ?? 'Download CSV'}
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
