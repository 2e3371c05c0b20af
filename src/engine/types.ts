/**
 * The decision core's inputs and outputs. The engine is pure: the request
 * already carries every attribute it needs (principal, roles, grants,
 * dataset, BAAs) and the current time; the snapshot carries the compiled
 * policy. No database, HTTP, files or clock here.
 */

/** A Safe Harbor identifier category (see catalog/identifiers.ts). */
export type Category = string;

/** A column of the requested dataset. */
export interface ColumnFacts {
  name: string;
  category?: Category | undefined;
}

/** A role held by a principal: organisation-wide (project null) or in one project (a casbin domain). */
export interface RoleBinding {
  role: string;
  project: string | null;
}

/** A just-in-time grant: an extra role, in force only while notBefore <= now < expiresAt. */
export interface GrantFacts {
  id: string;
  role: string;
  /** Scope: a project (null = organisation-wide) and optionally one dataset. */
  project: string | null;
  datasetId: string | null;
  notBefore: number;
  expiresAt: number;
  breakGlass: boolean;
}

/** A business associate agreement of the principal's vendor. */
export interface BaaFacts {
  id: string;
  /** UTC dates `YYYY-MM-DD`; in force on [effectiveOn, expiresOn). */
  effectiveOn: string;
  expiresOn: string;
  purposes: string[];
  classifications: string[];
}

/** Everything the engine knows about a principal. */
export interface PrincipalFacts {
  id: string;
  kind: 'user' | 'service';
  status: 'active' | 'disabled';
  /** Projects the principal belongs to (services: their project; people: projects of their roles). */
  projects: string[];
  vendorId: string | null;
  baas: BaaFacts[];
  attributes: Record<string, unknown>;
  roles: RoleBinding[];
  grants: GrantFacts[];
  /** For a service: its sponsor, evaluated for the same request (attenuation). */
  sponsor?: PrincipalFacts | undefined;
}

/** Everything the engine knows about the dataset. */
export interface DatasetFacts {
  id: string;
  project: string;
  owner: string;
  classification: 'deidentified' | 'limited' | 'phi';
  purposes: string[];
  columns: ColumnFacts[];
  /**
   * The same columns as a map, name → identifier category (null: none), as
   * the facts layer builds it with the columns (engine/columns.ts
   * `columnCategories`): every decision looks each requested column up in
   * it, and an allow's selector reads the category found. Without it the
   * engine builds one per column list. It decides, not `columns`: facts
   * copied with other columns must be given their own map.
   */
  columnCategories?: ReadonlyMap<string, Category | null>;
  /** Token audience of the dataset's server (`urn:custos:dataset:<id>` unless configured). */
  audience: string;
}

/** One decision request, fully attributed. */
export interface DecisionInput {
  /** Milliseconds since the epoch: the request's "now". */
  now: number;
  action: string;
  purpose: string;
  /** Requested columns; '*' means all (refused on phi and limited datasets). */
  columns: string[] | '*';
  principal: PrincipalFacts;
  dataset: DatasetFacts;
  /** Free-form request attributes available to conditions as `request.context`. */
  context?: Record<string, unknown> | undefined;
}

/** A duty attached to an allow (e.g. differential-privacy {epsilon}, no-export). */
export interface Obligation {
  type: string;
  [k: string]: unknown;
}

/** The engine's answer. */
export interface Decision {
  effect: 'allow' | 'deny';
  /** Ids of the rules that decided: the matching denies, or the allows that granted the columns. */
  rules: string[];
  /** For a deny: every unmet requirement, in plain words. Empty for an allow. */
  reasons: string[];
  /** Columns granted for this request (allow), or that would have been (deny by column). */
  grantedColumns: string[];
  /** Requested columns that were not granted. */
  deniedColumns: string[];
  obligations: Obligation[];
  /** Just-in-time grants the allow relied on. */
  grantIds: string[];
  /** The earliest expiry among the grants relied on (ms), to cap token lifetimes. */
  grantsExpireAt: number | null;
  breakGlass: boolean;
  policyVersion: string;
}
