/**
 * Caps on policy test files. A test file is run by the server on every
 * validation and push, so it is untrusted input with a price: thousands of
 * columns in one case drive a condition's cost, thousands of cases multiply
 * it, megabytes of YAML cost memory before anything runs. The caps mirror
 * what the decision API accepts of one request (2,000 columns, 50 context
 * entries by default) and bound the rest; a file over a cap is refused as a
 * whole, before any of its cases runs, with the file and case named.
 */
import { CustosError } from '../errors.ts';
import type { PolicyTestFile } from './policyTests.ts';

/** The caps (CUSTOS_POLICY_TESTS_MAX_*). */
export interface TestFileCaps {
  maxFiles: number;
  maxCases: number;
  maxColumns: number;
  maxBytes: number;
}

/** The defaults of {@link TestFileCaps} (the same as the configuration's). */
export const DEFAULT_TEST_FILE_CAPS: TestFileCaps = Object.freeze({ maxFiles: 50, maxCases: 500, maxColumns: 2000, maxBytes: 1_048_576 });

/** Context entries one case may pass, as many as a decision request may. */
const MAX_CONTEXT_ENTRIES = 50;

/** One cap a test file exceeds: the file, the case (null: the file itself, or `(all)` files together). */
export interface TestFileCapIssue {
  file: string;
  case: string | null;
  message: string;
}

/** Test files over a cap: refused before any case runs; `issues` names each file and case. */
export class PolicyTestsTooLargeError extends CustosError {
  readonly issues: TestFileCapIssue[];
  constructor(issues: TestFileCapIssue[]) {
    const first = issues[0];
    super('policy_tests_too_large', `The policy test files exceed ${issues.length} cap(s)${first ? `: ${first.file}${first.case ? ` › ${first.case}` : ''}: ${first.message}` : ''}`);
    this.issues = issues;
  }

  /** Sent to the client with the problem document. */
  get problemExtensions(): { issues: TestFileCapIssue[] } {
    return { issues: this.issues.slice(0, 50) };
  }
}

/** Caps that need no parsing: the number of files and their total size (UTF-8 bytes). */
export function sizeIssues(tests: Readonly<Record<string, string>>, caps: TestFileCaps): TestFileCapIssue[] {
  const names = Object.keys(tests);
  const issues: TestFileCapIssue[] = [];
  if (names.length > caps.maxFiles) issues.push({ file: '(all)', case: null, message: `${names.length} test files; at most ${caps.maxFiles}` });
  let bytes = 0;
  for (const n of names) bytes += Buffer.byteLength(tests[n]!, 'utf8');
  if (bytes > caps.maxBytes) issues.push({ file: '(all)', case: null, message: `${bytes} bytes of test files; at most ${caps.maxBytes}` });
  return issues;
}

/** Caps of one parsed file: cases, columns per case and per dataset, context entries per case. */
export function fileIssues(file: string, spec: PolicyTestFile, caps: TestFileCaps): TestFileCapIssue[] {
  const issues: TestFileCapIssue[] = [];
  if (spec.cases.length > caps.maxCases) issues.push({ file, case: null, message: `${spec.cases.length} cases; at most ${caps.maxCases} per file` });
  for (const [id, d] of Object.entries(spec.datasets)) {
    if (d.columns.length > caps.maxColumns) issues.push({ file, case: null, message: `dataset ${id} has ${d.columns.length} columns; at most ${caps.maxColumns}` });
  }
  for (const c of spec.cases) {
    const columns = c.input.columns === '*' ? 1 : c.input.columns.length;
    if (columns > caps.maxColumns) issues.push({ file, case: c.name, message: `input.columns has ${columns} columns; at most ${caps.maxColumns} per case` });
    const context = Object.keys(c.input.context ?? {}).length;
    if (context > MAX_CONTEXT_ENTRIES) issues.push({ file, case: c.name, message: `input.context has ${context} entries; at most ${MAX_CONTEXT_ENTRIES} per case` });
    if (issues.length >= 50) break;
  }
  return issues;
}
