/**
 * What the policy routes answer, as documented in /openapi.json: versions,
 * the history, diffs, validation and simulation reports. Each schema
 * follows the type the policy operations return (src/policy/); the policy
 * route tests parse real answers with them.
 */
import { z } from 'zod';
import { Expect } from '../../policy/policyTests.ts';

const Names = z.array(z.string());

/** A version's metadata (without its files). */
const VersionMeta = z.object({
  version: z.number().int(),
  digest: z.string().describe('SHA-256 (hex) of the documents and tests'),
  author_id: z.string().nullable(),
  created_at: z.string(),
  comment: z.string().nullable(),
  rollback_of: z.number().int().nullable().describe('on a rollback: the version whose content this one restores'),
});

/** One version with its files and ETag. */
export const VersionBody = VersionMeta.extend({
  documents: z.record(z.string(), z.string()).describe('rule documents by file name (YAML text)'),
  tests: z.record(z.string(), z.string()).describe('policy test files by file name (YAML text)'),
  etag: z.string().describe('the same as the ETag header'),
  live_snapshot: z.string().optional().describe('the snapshot this replica decides with (the live version, and the pushes)'),
});

/** A pushed version: what changed, and whether this replica compiled it. */
export const PushedVersion = VersionBody.extend({
  live_snapshot: z.string(),
  changed_rules: Names.describe('rule ids added, removed or changed against the version it replaced'),
  reloaded: z.boolean().describe('false: this replica kept its last good snapshot (the new version is stored; see the log)'),
});

/** A page of the history. */
export const VersionPage = z.object({
  items: z.array(VersionMeta.extend({ documents: Names.describe('rule document names'), tests: Names.describe('test file names') })),
  next_cursor: z.string().nullable().describe('pass back as `cursor` for older versions'),
});

const FileDiff = z.object({
  name: z.string(),
  status: z.enum(['added', 'removed', 'changed']),
  rules: z.object({ added: Names, removed: Names, changed: Names }).optional().describe('rule documents only: rule ids'),
  unified: z.string().describe('unified diff: ---/+++ headers, @@ hunks, 3 lines of context'),
});

/** The differences between two versions. */
export const PolicyDiffBody = z.object({
  from: z.number().int(),
  to: z.number().int(),
  documents: z.array(FileDiff),
  tests: z.array(FileDiff),
  changed_rules: Names.describe('every rule id added, removed or changed, across documents'),
});

const Issue = z.object({ document: z.string(), rule: z.string().optional(), field: z.string().optional(), message: z.string() });
const TestFailure = z.object({
  file: z.string(),
  case: z.string().nullable().describe('null: the file itself could not be run'),
  message: z.string(),
  expected: Expect.optional(),
  actual: z.record(z.string(), z.unknown()).optional(),
  mismatches: z.array(z.object({ field: z.string(), expected: z.unknown(), actual: z.unknown() })).optional(),
});
const TestReport = z.object({ ok: z.boolean(), files: z.number().int(), cases: z.number().int(), passed: z.number().int(), failures: z.array(TestFailure) });

/** A validation: whether the candidate compiles and passes its tests. */
export const ValidationBody = z.object({
  valid: z.boolean().describe('compiles and every test passes'),
  compiles: z.boolean(),
  rules: z.number().int().describe('rules compiled'),
  issues: z.array(Issue).describe('where and why it does not compile (document › rule › field)'),
  tests: TestReport.nullable().describe('null when it does not compile'),
});

const Decided = z.object({ effect: z.string(), rules: Names });
const FlipExample = z.object({
  decision_id: z.string(),
  at: z.string(),
  principal_id: z.string(),
  dataset_id: z.string(),
  purpose: z.string(),
  live: Decided,
  candidate: Decided.extend({ reasons: Names }),
});
const FlipGroup = z.object({ key: z.string(), allow_to_deny: z.number().int(), deny_to_allow: z.number().int(), examples: z.array(FlipExample) });

/** A simulation's report. */
export const SimulationBody = z.object({
  from: z.string(),
  to: z.string(),
  replayed: z.number().int(),
  skipped: z.number().int().describe('logged requests whose principal or dataset no longer exists'),
  truncated: z.boolean().describe('the range held more requests than `limit`'),
  live_version: z.string(),
  candidate_version: z.string(),
  unchanged: z.number().int(),
  flips: z.object({ allow_to_deny: z.number().int(), deny_to_allow: z.number().int() }),
  by_rule: z.array(FlipGroup),
  by_principal: z.array(FlipGroup),
  by_dataset: z.array(FlipGroup),
  examples: z.array(FlipExample),
  examples_withheld: z.boolean().describe('true: the caller lacks `audit:read`, so no logged request is shown'),
});
