/** The policy editor of the Policy page (Policy.tsx describes it); a chunk of its own. */
import { useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client.ts';
import { Link } from '../../router.tsx';
import { Field, Select, TextArea } from '../../ui/Field.tsx';
import { messageOf } from '../../ui/states.tsx';
import { Time } from '../../ui/Time.tsx';
import { CodeEditor, type EditorHandle } from './CodeEditor.tsx';
import { Outcome, useAction } from '../../ui/useAction.tsx';
import { PrincipalName } from '../../ui/principals.tsx';
import { Held, isHeld } from './common.tsx';
import { diagnosticsFor, failureDiagnostics, issueRange, lineOf } from './issuePositions.ts';
import { diffDraft, splitKey, type Draft } from './policyDraft.ts';
import { SimulationReport } from './SimulationReport.tsx';
import type { Change, PolicyIssue, PolicyVersion, Simulation, TestFailure, Validation } from './types.ts';
import { UnifiedDiff } from './UnifiedDiff.tsx';
import type { ComponentChildren } from 'preact';

import { loadLive } from './policyApi.ts';
import { Table } from '../../ui/Table.tsx';

const fmt = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

/** What a check found: issues, failing cases, or that all is well. */
interface Findings {
  issues: PolicyIssue[];
  failures: TestFailure[];
  summary: string;
  valid: boolean;
  /** The draft these findings are about. */
  of: string;
}

export function PolicyEditor({ initial }: { initial: PolicyVersion }) {
  const [base, setBase] = useState(initial);
  const [draft, setDraft] = useState<Draft>({ documents: initial.documents, tests: initial.tests });
  const [file, setFile] = useState(`documents/${Object.keys(initial.documents)[0]}`);
  const [generation, setGeneration] = useState(0);
  const [findings, setFindings] = useState<Findings>();
  const [showDiff, setShowDiff] = useState(false);
  const [days, setDays] = useState('7');
  const [simulation, setSimulation] = useState<Simulation>();
  const [comment, setComment] = useState('');
  const [newer, setNewer] = useState<PolicyVersion>();
  const handle = useRef<EditorHandle | undefined>(undefined);
  const check = useAction();
  const act = useAction();
  const sim = useAction();

  const [group, name] = splitKey(file);
  const text = draft[group][name] ?? '';
  const key = JSON.stringify(draft);
  const changes = useMemo(() => diffDraft(base, draft), [base, key]);
  const diagnostics = useMemo(
    () => (!findings ? [] : group === 'documents' ? diagnosticsFor(text, name, findings.issues) : failureDiagnostics(text, name, findings.failures)),
    // Placed when the findings arrive or another file opens; CodeMirror maps them through edits after that.
    [findings, file, generation],
  );

  const edit = (t: string) => setDraft((d) => ({ ...d, [group]: { ...d[group], [name]: t } }));
  const reset = (v: PolicyVersion, keepDraft = false) => {
    setBase(v);
    if (!keepDraft) {
      setDraft({ documents: v.documents, tests: v.tests });
      setFindings(undefined);
      setSimulation(undefined);
      if (!(splitKey(file)[1] in v[splitKey(file)[0]])) setFile(`documents/${Object.keys(v.documents)[0]}`);
    }
    setGeneration((g) => g + 1);
  };

  const findingsOf = (v: Validation): Findings => ({
    issues: v.issues,
    failures: v.tests?.failures ?? [],
    valid: v.valid,
    of: key,
    summary: !v.compiles
      ? `Does not compile: ${v.issues.length} problem${v.issues.length === 1 ? '' : 's'}.`
      : v.tests
        ? `Compiles (${v.rules} rules); tests: ${v.tests.passed} of ${v.tests.cases} cases pass in ${v.tests.files} files${v.tests.ok ? '.' : `, ${v.tests.failures.length} failing.`}`
        : `Compiles (${v.rules} rules).`,
  });

  const validate = () =>
    check.run(async () => {
      const v = await api<Validation>('POST', '/v1/policy/validate', { body: { documents: draft.documents, tests: draft.tests } });
      setFindings(findingsOf(v));
      // Announced either way: an invalid draft as an alert, beside the button that asked.
      if (!v.valid) throw new Error(v.compiles ? 'Not valid: some policy tests fail (below).' : 'Not valid: the draft does not compile (below).');
      return 'Valid: it compiles and every test passes.';
    });

  const simulate = () =>
    sim.run(async () => {
      const n = Number(days);
      const to = new Date();
      const from = new Date(to.getTime() - n * 86_400_000);
      setSimulation(await api<Simulation>('POST', '/v1/policy/simulate', { body: { documents: draft.documents, from: from.toISOString(), to: to.toISOString() } }));
    });

  const push = () =>
    act.run(async (): Promise<ComponentChildren> => {
      setNewer(undefined);
      try {
        const r = await api<PolicyVersion | Change>('PUT', '/v1/policy', {
          body: { documents: draft.documents, tests: draft.tests, ...(comment.trim() ? { comment: comment.trim() } : {}) },
          headers: { 'if-match': base.etag },
        });
        if (isHeld(r)) return <Held change={r} />;
        setComment('');
        reset(await loadLive());
        return `Pushed: version ${r.version} is live.`;
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) {
          // Someone else pushed since this draft's base was read: never overwrite their version blindly.
          const latest = await loadLive();
          setNewer(latest);
          throw new Error(
            latest.version !== base.version
              ? `Refused: the live policy changed since you loaded version ${base.version} (version ${latest.version} is live now). Your draft is kept: compare it with version ${latest.version}, then push again.`
              : messageOf(e),
          );
        }
        if (e instanceof ApiError && (e.code === 'policy_invalid' || e.code === 'policy_tests_failed')) {
          const issues = (e.problem.issues as PolicyIssue[] | undefined) ?? [];
          const failures = (e.problem.failures as TestFailure[] | undefined) ?? [];
          setFindings({ issues, failures, valid: false, of: key, summary: e.code === 'policy_invalid' ? `Does not compile: ${issues.length} problems.` : `${failures.length} failing test cases.` });
        }
        throw e;
      }
    });

  const discard = () => {
    setDraft({ documents: base.documents, tests: base.tests });
    setFindings(undefined);
    setGeneration((g) => g + 1);
  };

  return (
    <main id="main">
      <h1>Policy</h1>
      <p>
        Live: version {base.version}
        {base.author_id ? (
          <>
            , by <PrincipalName id={base.author_id} link />
          </>
        ) : null}
        , <Time value={base.created_at} />
        {base.comment ? ` — “${base.comment}”` : ''}
        {base.rollback_of ? ` (restores version ${base.rollback_of})` : ''}. <Link to="/admin/policy/history">History and rollback</Link>
      </p>

      <section aria-labelledby="editor">
        <h2 id="editor">Edit</h2>
        <div class="filters">
          <Select label="File" value={file} onValue={setFile}>
            <optgroup label="Rule documents">
              {Object.keys(draft.documents).map((n) => (
                <option key={n} value={`documents/${n}`}>
                  {n}
                </option>
              ))}
            </optgroup>
            <optgroup label="Test files">
              {Object.keys(draft.tests).map((n) => (
                <option key={n} value={`tests/${n}`}>
                  {n}
                </option>
              ))}
            </optgroup>
          </Select>
          <p class="muted">{changes.length ? `Changed: ${changes.map((c) => c.name).join(', ')}` : 'No changes yet.'}</p>
        </div>
        <CodeEditor
          label={`${name} (${group === 'documents' ? 'rule document' : 'test file'})`}
          docKey={`${file}#${generation}`}
          value={text}
          onChange={edit}
          diagnostics={diagnostics}
          handle={handle}
        />
        <div class="actions">
          <button type="button" disabled={check.busy} onClick={() => void validate()}>
            {check.busy ? 'Validating…' : 'Validate and run tests'}
          </button>
          <button type="button" class="secondary" aria-pressed={showDiff} onClick={() => setShowDiff(!showDiff)}>
            {showDiff ? 'Hide diff' : 'Show diff'}
          </button>
          <button type="button" class="secondary" disabled={changes.length === 0} onClick={discard}>
            Discard changes
          </button>
        </div>
        <Outcome status={check.status} error={check.error} />
      </section>

      {findings && (
        <section aria-labelledby="findings">
          <h2 id="findings">Validation</h2>
          <p class={findings.valid ? 'notice' : 'error'}>
            {findings.summary}
            {findings.of !== key && ' (The draft has changed since: validate again.)'}
          </p>
          {findings.issues.length > 0 && (
            <ul aria-label="Problems">
              {findings.issues.map((i, n) => {
                const t = draft.documents[i.document];
                const line = t === undefined ? undefined : lineOf(t, issueRange(t, i).from);
                return (
                  <li key={n}>
                    {[i.document, i.rule, i.field].filter(Boolean).join(' › ')}: {i.message}
                    {line !== undefined && (
                      <>
                        {' '}
                        <button
                          type="button"
                          class="link"
                          onClick={() => {
                            setFile(`documents/${i.document}`);
                            setTimeout(() => handle.current?.focusAt(issueRange(t!, i).from), 0);
                          }}
                        >
                          line {line}
                        </button>
                      </>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
          {findings.failures.length > 0 && (
            <Table caption="Failing test cases" head={['File', 'Case', 'What differs']}>
              {findings.failures.map((f, n) => (
                <tr key={n}>
                  <td>{f.file}</td>
                  <th scope="row">{f.case ?? '(the file itself)'}</th>
                  <td>
                    {f.mismatches?.length ? (
                      <ul>
                        {f.mismatches.map((m) => (
                          <li key={m.field}>
                            {m.field}: expected {fmt(m.expected)}, got {fmt(m.actual)}
                          </li>
                        ))}
                      </ul>
                    ) : (
                      f.message
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </section>
      )}

      {showDiff && (
        <section aria-labelledby="diff">
          <h2 id="diff">Diff against version {base.version}</h2>
          {changes.length === 0 ? (
            <p class="state empty">The draft equals version {base.version}.</p>
          ) : (
            changes.map((c) => (
              <div key={`${c.group}/${c.name}`}>
                <h3>
                  {c.name} ({c.group === 'documents' ? 'rule document' : 'test file'}, {c.status})
                </h3>
                <UnifiedDiff label={`Diff of ${c.name}`} text={c.unified} />
              </div>
            ))
          )}
        </section>
      )}

      <section aria-labelledby="simulate">
        <h2 id="simulate">Simulate</h2>
        <p>Replays the logged decision requests of the last days against the draft's rules and the live policy, and counts the decisions that would flip. It changes nothing, and each run is audited.</p>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            void simulate();
          }}
        >
          <Field label="Days of logged requests" type="number" min={1} max={31} value={days} onValue={setDays} required />
          <button type="submit" disabled={sim.busy}>
            {sim.busy ? 'Simulating…' : 'Simulate'}
          </button>
        </form>
        <Outcome error={sim.error} />
        {simulation && <SimulationReport report={simulation} />}
      </section>

      <section aria-labelledby="push">
        <h2 id="push">Push</h2>
        <p>
          The draft becomes version {base.version + 1} only if version {base.version} is still live (If-Match), it compiles and its tests pass. Changing a test file waits for a second administrator.
        </p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void push();
          }}
        >
          <TextArea label="Comment for the history" value={comment} onValue={setComment} rows={2} />
          <button type="submit" disabled={act.busy || changes.length === 0}>
            Push as version {base.version + 1}
          </button>
        </form>
        {newer && newer.version !== base.version && (
          <button type="button" class="secondary" onClick={() => {
              reset(newer, true);
              setNewer(undefined);
            }}>
            Compare my draft with version {newer.version}
          </button>
        )}
        <Outcome status={act.status} error={act.error} />
      </section>
    </main>
  );
}
