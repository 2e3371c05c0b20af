/**
 * The compiled, immutable policy the engine decides against. Built once per
 * policy version by policy/compile.ts, indexed so that a decision touches
 * only rules that can apply: by action, then by role, then by the principal
 * or dataset a rule is for.
 */
import type { DecisionInput, GrantFacts, Obligation } from './types.ts';

/** How an allow rule selects columns (minimum necessary): a dataset's columns, those that are not identifiers, those named, or those not of the categories named. */
export type ColumnSelector =
  | { kind: 'all' }
  | { kind: 'non-identifiers' }
  | { kind: 'include'; columns: ReadonlySet<string> }
  | { kind: 'except-categories'; categories: ReadonlySet<string> };

/** What a condition sees. */
export interface ConditionContext {
  principal: { id: string; kind: string; projects: string[]; vendor: string; attributes: Record<string, unknown> };
  resource: { id: string; project: string; owner: string; classification: string; purposes: string[] };
  request: { action: string; purpose: string; columns: readonly string[]; context: Record<string, unknown> };
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
  /**
   * The rule's reasons in a deny, written once when the policy is compiled:
   * `condition of rule <id> not met` and `denied by rule <id>`. A decision
   * cites them without building text or reading the id.
   */
  unmetReason: string;
  deniedReason: string;
}

/**
 * The rules of one (action, role) pair, split so that rules for one
 * principal or one dataset cost O(1) to find, however many there are for
 * others. Each rule is in exactly one of byPrincipal, byDataset and rest
 * (under every id it is filed by).
 */
export interface RuleBucket {
  /** Rules whose condition pins the principal's id (`principal.id == "…"` / `in […]`), under each id. */
  byPrincipal: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Rules restricted to named datasets — by `resource.datasets`, or a condition pinning `resource.id`, or both (the ids in both) — under each. */
  byDataset: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Rules restricted by neither. */
  rest: readonly CompiledRule[];
  /**
   * The denies filed under ids their condition pins: for any other id their
   * condition is false, unless it refuses to run over budget — and a
   * refusing deny applies. A decision whose inputs may make conditions
   * refuse (PolicySnapshot.mayRefuse) considers them all.
   */
  pinnedDenies: readonly CompiledRule[];
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
  /** Whether a condition may refuse to evaluate this context (its inputs too large for the cost checked when compiled) instead of answering. */
  mayRefuse: (ctx: ConditionContext) => boolean;
}

/** Which grants count: all in force, only break-glass ones, or none of the break-glass ones. */
export type GrantMode = 'any' | 'only' | 'none';

/** Nothing: shared, so the common answer of {@link membershipGrants} allocates nothing. */
const NONE: readonly GrantFacts[] = Object.freeze([]);

/** A grant in force at `now`: on [notBefore, expiresAt), so one millisecond past expiry it is gone. */
export function grantInForce(g: GrantFacts, now: number): boolean {
  return g.notBefore <= now && now < g.expiresAt;
}

/**
 * A grant's scope covers the dataset: its project is the dataset's (or it is
 * organisation-wide) and its dataset is this one (or it names none). A grant
 * scoped to another project or dataset has no part in the decision at all:
 * it confers no role, no membership, and is never cited.
 */
export function grantCovers(g: GrantFacts, dataset: DecisionInput['dataset']): boolean {
  return (g.project === null || g.project === dataset.project) && (g.datasetId === null || g.datasetId === dataset.id);
}

/**
 * Grants that make the dataset's project the principal's own for one rule's
 * condition: grants in force (of the kinds `mode` counts) whose scope covers
 * the dataset and names its project or the dataset itself (an
 * organisation-wide grant confers roles, not memberships), that confer one
 * of the rule's roles, directly or by inheritance, when the principal is not
 * already a member. A grant of another role never does. Only ever the
 * dataset's own project: membership of some other project cannot matter to
 * this decision, and citing a grant for it would make this decision's token
 * die with an unrelated grant.
 */
export function membershipGrants(input: DecisionInput, rule: CompiledRule, snapshot: PolicySnapshot, mode: GrantMode): readonly GrantFacts[] {
  const p = input.principal;
  if (!p.grants.length || p.projects.includes(input.dataset.project)) return NONE;
  let out: GrantFacts[] | undefined;
  for (const g of p.grants) {
    if ((mode === 'only' && !g.breakGlass) || (mode === 'none' && g.breakGlass)) continue;
    if (!grantInForce(g, input.now) || !grantCovers(g, input.dataset)) continue;
    if (g.project === null && g.datasetId === null) continue;
    const conferred = snapshot.roleClosure.get(g.role);
    if (!rule.roles.some((r) => r === g.role || conferred?.has(r))) continue;
    (out ??= []).push(g);
  }
  return out ?? NONE;
}

/** `request.context` of a request without one (shared: conditions never change their context). */
const NO_CONTEXT: Record<string, unknown> = Object.freeze({});

/** `request.columns` of a request for every column. */
const ALL_COLUMNS: readonly string[] = Object.freeze(['*']);

/** The list without repeats, in order: the list itself when it has none (a request names a few columns: no set is built for them). */
export function distinct(list: readonly string[]): readonly string[] {
  if (list.length > 16) return [...new Set(list)];
  for (let i = 1; i < list.length; i++) if (list.lastIndexOf(list[i]!, i - 1) >= 0) return [...new Set(list)];
  return list;
}

/**
 * Builds the condition context of a request (shared by decide and the casbin
 * reference). `projects` is the principal's memberships, plus the dataset's
 * project when `membership` (see {@link membershipGrants}) is not empty.
 */
export function conditionContext(input: DecisionInput, membership: readonly GrantFacts[] = NONE): ConditionContext {
  let projects = input.principal.projects;
  if (membership.length && !projects.includes(input.dataset.project)) projects = [...projects, input.dataset.project];
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
      columns: input.columns === '*' ? ALL_COLUMNS : distinct(input.columns),
      context: input.context ?? NO_CONTEXT,
    },
  };
}
