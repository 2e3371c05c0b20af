/**
 * What the policy version store is: numbered, immutable versions of the
 * rule documents and their test files. `postgres/index.ts` implements it.
 */
import type { Tx } from '../db/client.ts';
import { createHash } from 'node:crypto';

/** Files by name (`default.yaml` → YAML text). */
export type PolicyFiles = Record<string, string>;

/** One stored version. */
export interface PolicyVersion {
  version: number;
  documents: PolicyFiles;
  tests: PolicyFiles;
  /** SHA-256 (hex) of documents and tests, see {@link policyDigest}. */
  digest: string;
  author_id: string | null;
  created_at: string;
  comment: string | null;
  /** Set on a rollback: the version whose content this one restores. */
  rollback_of: number | null;
}

/** A version without its files, as listed in the history. */
export type PolicyVersionSummary = Omit<PolicyVersion, 'documents' | 'tests'> & { documents: string[]; tests: string[] };

/** What {@link PolicyStore.create} takes. */
export interface NewPolicyVersion {
  /** The version the edit is based on: the insert happens only if it is still the latest. */
  basedOn: number;
  documents: PolicyFiles;
  tests: PolicyFiles;
  authorId: string | null;
  comment?: string | null | undefined;
  rollbackOf?: number | null | undefined;
  at: Date;
}

/** Reads and appends policy versions. */
export interface PolicyStore {
  /** Number and digest of the latest version (cheap: for the periodic check). */
  head(): Promise<{ version: number; digest: string } | undefined>;
  latest(): Promise<PolicyVersion | undefined>;
  /** Throws NotFoundError. */
  get(version: number): Promise<PolicyVersion>;
  /** Newest first; `before`: versions below this number. */
  list(page: { limit: number; before?: number | undefined }): Promise<{ items: PolicyVersionSummary[]; next_cursor: string | null }>;
  /**
   * Appends version `basedOn + 1`; ConflictError when `basedOn` is no longer
   * the latest. `within` runs in the same transaction (the edit's audit
   * event): if it fails, no version is added.
   */
  create(v: NewPolicyVersion, within?: (tx: Tx, created: PolicyVersion) => Promise<void>): Promise<PolicyVersion>;
  /** Inserts version 1 when the store is empty (several replicas may race; one wins). */
  seed(v: Omit<NewPolicyVersion, 'basedOn'>): Promise<void>;
}

/** Files sorted by name, as a list of pairs (object key order must not change a digest). */
function sortedPairs(files: PolicyFiles): [string, string][] {
  return Object.keys(files)
    .sort()
    .map((k) => [k, files[k]!]);
}

/** The content digest of a version: SHA-256 over documents and tests, by name. */
export function policyDigest(documents: PolicyFiles, tests: PolicyFiles): string {
  return createHash('sha256')
    .update(JSON.stringify({ documents: sortedPairs(documents), tests: sortedPairs(tests) }))
    .digest('hex');
}

/** The ETag of a version: its number and (part of) its digest, quoted. */
export function policyEtag(v: { version: number; digest: string }): string {
  return `"${v.version}-${v.digest.slice(0, 16)}"`;
}
