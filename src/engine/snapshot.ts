/**
 * The compiled, immutable policy the engine decides against. Built once per
 * policy version by policy/compile.ts, indexed so that a decision touches
 * only rules that can apply: by action, then by role.
 */
import type { DecisionInput, GrantFacts, Obligation } from './types.ts';

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

/** Which grants count: all in force, only break-glass ones, or none of the break-glass ones. */
export type GrantMode = 'any' | 'only' | 'none';

/**
 * Grants that make a project the principal's own for one rule's condition:
 * grants in force (of the kinds `mode` counts) that confer one of the rule's
 * roles, directly or by inheritance, in a project the principal is not
 * already a member of. A grant of another role never does.
 */
export function membershipGrants(input: DecisionInput, rule: CompiledRule, snapshot: PolicySnapshot, mode: GrantMode): GrantFacts[] {
  const p = input.principal;
  let out: GrantFacts[] | undefined;
  for (const g of p.grants) {
    if ((mode === 'only' && !g.breakGlass) || (mode === 'none' && g.breakGlass)) continue;
    if (!(g.notBefore <= input.now && input.now < g.expiresAt)) continue;
    const project = g.project ?? (g.datasetId === input.dataset.id ? input.dataset.project : null);
    if (project === null || p.projects.includes(project)) continue;
    const conferred = snapshot.roleClosure.get(g.role);
    if (!rule.roles.some((r) => r === g.role || conferred?.has(r))) continue;
    (out ??= []).push(g);
  }
  return out ?? [];
}

/**
 * Builds the condition context of a request (shared by decide and the casbin
 * reference). `projects` is the principal's memberships, plus the projects of
 * `membership` (see {@link membershipGrants}).
 */
export function conditionContext(input: DecisionInput, membership: readonly GrantFacts[] = []): ConditionContext {
  let projects = input.principal.projects;
  for (const g of membership) {
    const project = g.project ?? input.dataset.project;
    if (!projects.includes(project)) projects = [...projects, project];
  }
  return {
    principal: {
      id: input.principal.id,
      kind: input.principal.kind,
      projects,
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
