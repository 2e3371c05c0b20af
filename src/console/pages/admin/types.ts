/** What the catalog, change and policy routes answer, as the administrators' pages read it. */

export const PURPOSES = ['model-training', 'model-evaluation', 'research', 'operations', 'emergency'] as const;
export const CLASSIFICATIONS = ['deidentified', 'limited', 'phi'] as const;
/** The 18 Safe Harbor identifier categories, §164.514(b)(2)(i)(A)–(R), in the order of the rule. */
export const IDENTIFIER_CATEGORIES = [
  'names',
  'geographic',
  'dates',
  'phone',
  'fax',
  'email',
  'ssn',
  'mrn',
  'health-plan-beneficiary',
  'account-number',
  'certificate-license',
  'vehicle-id',
  'device-id',
  'url',
  'ip-address',
  'biometric',
  'full-face-photo',
  'other-unique-id',
] as const;
export const COLUMN_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'timestamp', 'binary', 'json'] as const;

export interface Project {
  id: string;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface Baa {
  id: string;
  vendor_id: string;
  reference: string;
  effective_on: string;
  expires_on: string;
  purposes: string[];
  classifications: string[];
  active: boolean;
  created_at: string;
}

export interface Vendor {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
  baas: Baa[];
}

export interface Role {
  id: string;
  description: string;
  inherits: string[];
  created_at: string;
  updated_at: string;
}

export interface RoleAssignment {
  id: string;
  principal_id: string;
  role_id: string;
  project_id: string | null;
  created_by: string | null;
  created_at: string;
}

export interface Change {
  id: string;
  kind: 'role.update' | 'role.assign' | 'role.unassign' | 'policy.update' | 'principal.recover';
  target: string;
  status: 'pending' | 'applied' | 'rejected' | 'withdrawn' | 'expired' | 'failed';
  reasons: string[];
  before: unknown;
  after: unknown;
  comment: string | null;
  proposer_id: string;
  proposed_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
}

export type Files = Record<string, string>;

/** What every answer about a policy version says of it. */
interface VersionHead {
  version: number;
  digest: string;
  author_id: string | null;
  created_at: string;
  comment: string | null;
  rollback_of: number | null;
}

/** One version with its files (GET /v1/policy, and the answer to a push or a rollback). */
export interface PolicyVersion extends VersionHead {
  documents: Files;
  tests: Files;
  etag: string;
  live_snapshot?: string;
}

/** A version in the history list: its files by name only. */
export interface VersionMeta extends VersionHead {
  documents: string[];
  tests: string[];
}

export interface PolicyIssue {
  document: string;
  rule?: string;
  field?: string;
  message: string;
}

export interface TestFailure {
  file: string;
  case: string | null;
  message: string;
  expected?: Record<string, unknown>;
  actual?: Record<string, unknown>;
  mismatches?: { field: string; expected: unknown; actual: unknown }[];
}

export interface TestReport {
  ok: boolean;
  files: number;
  cases: number;
  passed: number;
  failures: TestFailure[];
}

export interface Validation {
  valid: boolean;
  compiles: boolean;
  rules: number;
  issues: PolicyIssue[];
  tests: TestReport | null;
}

export interface FileDiff {
  name: string;
  status: 'added' | 'removed' | 'changed';
  rules?: { added: string[]; removed: string[]; changed: string[] };
  unified: string;
}

export interface PolicyDiff {
  from: number;
  to: number;
  documents: FileDiff[];
  tests: FileDiff[];
  changed_rules: string[];
}

export interface FlipGroup {
  key: string;
  allow_to_deny: number;
  deny_to_allow: number;
  examples: unknown[];
}

export interface FlipExample {
  decision_id: string;
  at: string;
  principal_id: string;
  dataset_id: string;
  purpose: string;
  live: { effect: string; rules: string[] };
  candidate: { effect: string; rules: string[]; reasons: string[] };
}

export interface Simulation {
  from: string;
  to: string;
  replayed: number;
  skipped: number;
  truncated: boolean;
  live_version: string;
  candidate_version: string;
  unchanged: number;
  flips: { allow_to_deny: number; deny_to_allow: number };
  by_rule: FlipGroup[];
  by_principal: FlipGroup[];
  by_dataset: FlipGroup[];
  examples: FlipExample[];
  examples_withheld: boolean;
}
