/**
 * Policy administration: the live version (`GET /v1/policy`, whose ETag is
 * kept for the push), an editor for its rule documents and test files with
 * the server's validation shown inline (`POST /v1/policy/validate`: issues
 * placed on the YAML they name, failing test cases on the case), a diff of
 * the draft against the live version (worked out here with jsdiff, as the
 * server's diffs are), a simulation over the last N days of logged requests
 * (`POST /v1/policy/simulate`: flips by rule, principal and dataset), and a
 * push (`PUT /v1/policy` with If-Match). A push refused because someone else
 * pushed meanwhile (409) says so and keeps the draft; a push that changes
 * test files answers 202 and waits for a second administrator.
 * Reading, validating and simulating need `policy:read`; pushing
 * `policy:write` and a fresh second factor (the dialog appears).
 */
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorNote, Loading } from '../../ui/states.tsx';
import { useLoad } from '../../ui/useLoad.ts';
import { loadLive } from './policyApi.ts';
import type { PolicyVersion } from './types.ts';

// The editor (CodeMirror, the YAML parser, jsdiff) is a chunk of its own, loaded when this page opens:
// the rest of the console does not pay for it.
type EditorComponent = ComponentType<{ initial: PolicyVersion }>;
let editorModule: Promise<EditorComponent> | undefined;
const loadEditor = () =>
  (editorModule ??= import('./PolicyEditor.tsx').then(
    (m) => m.PolicyEditor,
    (err: unknown) => {
      editorModule = undefined; // a failed download is tried again next time
      throw err;
    },
  ));

export function PolicyPage() {
  const live = useLoad<PolicyVersion>((signal) => loadLive(signal), []);
  const [Editor, setEditor] = useState<EditorComponent>();
  const [failed, setFailed] = useState<unknown>();
  useEffect(() => {
    loadEditor().then((c) => setEditor(() => c), setFailed);
  }, []);
  const error = live.error ?? failed;
  return error ? (
    <main id="main">
      <h1>Policy</h1>
      <ErrorNote error={error} onRetry={live.error ? live.reload : undefined} />
    </main>
  ) : !live.data || !Editor ? (
    <main id="main">
      <h1>Policy</h1>
      <Loading />
    </main>
  ) : (
    <Editor initial={live.data} />
  );
}

