/**
 * The compiled, immutable policy the engine decides against. Built once per
 * policy version by policy/compile.ts, indexed so that a decision touches
 * only rules that can apply: by action, then by role.
 */
import type { DecisionInput, Obligation } from './types.ts';

/** How an allow rule selects columns (minimum necessary). */
export type ColumnSelector =
  | { kind: 'all' }
  | { kind: 'non-identifiers' }
  | { kind: 'include'; columns: string[] }
  | { kind: 'except-categories'; categories: string[] };

/** What a condition sees. */
export interface ConditionContext {
  principal: { id: string; kind: string; projects: string[]; vendor: string; attributes: Record<string, unknown> };
  resource: { id: string; project: string; owner: string; classification: string; purposes: string[] };
  request: { action: string; purpose: string; columns: string[]; context: Record<string, unknown> };
}

/** A compiled condition: true, false, or throws (treated as not met). */
export type CompiledCondition = (ctx: ConditionContext) => boolean;

/** A rule ready for evaluation. */
export interface CompiledRule {
  id: string;
  effect: 'allow' | 'deny';
  roles: readonly string[];
  actions: readonly string[];
  /** Empty set = any. */
  datasets: ReadonlySet<string>;
  projects: ReadonlySet<string>;
  classifications: ReadonlySet<string>;
  purposes: ReadonlySet<string>;
  condition: CompiledCondition | null;
  conditionText: string | null;
  columns: ColumnSelector;
  obligations: readonly Obligation[];
}

/** The rules of one (action, role) pair, split so per-dataset rules cost O(1) to find. */
export interface RuleBucket {
  /** Rules restricted to named datasets, under each dataset they name. */
  byDataset: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Rules not restricted by dataset id. */
  rest: readonly CompiledRule[];
}

/** How a role may be requested just in time. */
export interface AccessLimit {
  role: string;
  maxSeconds: number;
  approvals: number;
  approverRoles: readonly string[];
}

/** Emergency access settings of a policy. */
export interface BreakGlassLimit {
  role: string;
  eligibleRoles: readonly string[];
  maxSeconds: number;
}

/** The immutable snapshot of one policy version. */
export interface PolicySnapshot {
  version: string;
  /** Requestable roles, by role id. */
  accessLimits: ReadonlyMap<string, AccessLimit>;
  /** Break-glass, if the policy enables it. */
  breakGlass: BreakGlassLimit | null;
  rules: readonly CompiledRule[];
  /** action → role → rules naming that role (each rule appears under each of its roles). */
  index: ReadonlyMap<string, ReadonlyMap<string, RuleBucket>>;
  /** role → itself and every role it inherits, transitively. */
  roleClosure: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * Projects the principal belongs to for this request: those of its role
 * assignments, plus the scope of each grant in force that counts for the
 * request's purpose (break-glass grants for `emergency` only, others never for it).
 */
function memberProjects(input: DecisionInput): string[] {
  const p = input.principal;
  if (!p.grants.length) return p.projects;
  const emergency = input.purpose === 'emergency';
  let out: string[] | undefined;
  for (const g of p.grants) {
    if (g.breakGlass !== emergency || !(g.notBefore <= input.now && input.now < g.expiresAt)) continue;
    const project = g.project ?? (g.datasetId === input.dataset.id ? input.dataset.project : null);
    if (project === null || p.projects.includes(project) || out?.includes(project)) continue;
    (out ??= [...p.projects]).push(project);
  }
  return out ?? p.projects;
}

/** Builds the condition context of a request (shared by decide and the casbin reference). */
export function conditionContext(input: DecisionInput): ConditionContext {
  return {
    principal: {
      id: input.principal.id,
      kind: input.principal.kind,
      projects: memberProjects(input),
      vendor: input.principal.vendorId ?? '',
      attributes: input.principal.attributes,
    },
    resource: {
      id: input.dataset.id,
      project: input.dataset.project,
      owner: input.dataset.owner,
      classification: input.dataset.classification,
      purposes: input.dataset.purposes,
    },
    request: {
      action: input.action,
      purpose: input.purpose,
      // Deduplicated: repeating a column must not multiply the cost of a condition.
      columns: input.columns === '*' ? ['*'] : [...new Set(input.columns)],
      context: input.context ?? {},
    },
  };
}
