/**
 * Compiles policy documents into an immutable, indexed PolicySnapshot:
 * parse YAML, validate against the schema, check cross-references, compile
 * conditions, index rules by action, role and the principal or dataset they
 * are for, and close the role graph. Every problem is reported with its
 * document, rule and field.
 */
import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import type { AccessLimit, BreakGlassLimit, ColumnSelector, CompiledRule, PolicySnapshot, RuleBucket } from '../engine/snapshot.ts';
import type { Obligation } from '../engine/types.ts';
import { CustosError } from '../errors.ts';
import { analyseCondition, ConditionError, mayRefuse, sharedParts, type AnalysedCondition } from './condition.ts';
import type { ConditionPins } from './conditionIndex.ts';
import type { ConditionLimits } from './conditionCost.ts';
import { durationSeconds, RuleDocument, type AccessSpec, type RuleSpec } from './document.ts';

/** One problem in a policy, pointing at where it is. */
export interface PolicyIssue {
  document: string;
  rule?: string | undefined;
  field?: string | undefined;
  message: string;
}

/** The policy does not compile; `issues` says where and why. */
export class PolicyInvalidError extends CustosError {
  readonly issues: PolicyIssue[];
  constructor(issues: PolicyIssue[]) {
    super('policy_invalid', `The policy has ${issues.length} problem(s): ${issues.slice(0, 3).map(formatIssue).join('; ')}`);
    this.issues = issues;
  }

  /** Sent to the client with the problem document: every issue with its document, rule and field. */
  get problemExtensions(): { issues: PolicyIssue[] } {
    return { issues: this.issues };
  }
}

/** `document › rule › field: message`. */
export function formatIssue(i: PolicyIssue): string {
  return [i.document, i.rule, i.field].filter(Boolean).join(' › ') + `: ${i.message}`;
}

/** A rule document as YAML text, or (from trusted code such as generators) an already parsed value. */
export interface PolicySource {
  name: string;
  text: string;
  value?: unknown;
}

/** A role and the roles it inherits. */
export interface RoleGraphEntry {
  id: string;
  inherits: readonly string[];
}

/** What {@link compilePolicy} takes. */
export interface CompilePolicyOptions {
  documents: readonly PolicySource[];
  roles: readonly RoleGraphEntry[];
  /** Defaults to a digest of documents and roles. */
  version?: string;
  /** The cost budget of each condition (default: DEFAULT_CONDITION_LIMITS). */
  conditionLimits?: ConditionLimits | undefined;
}

/** Freezes plain objects and arrays recursively (Sets, Maps and functions are left as they are). */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** No obligations: one frozen list for every rule without any (a decision reads it, so one in cache rather than one per rule). */
const NO_OBLIGATIONS: readonly Obligation[] = Object.freeze([]);

/** "Any": the one empty set every rule without a restriction shares (nothing changes a snapshot's sets). */
const ANY: ReadonlySet<string> = new Set();

/**
 * One set object for every rule with the same restriction (the same values
 * in the same order; none: {@link ANY}). A decision reads each candidate
 * rule's four restrictions: at 100,000 rules the rules are not in the
 * processor's caches, and a few hundred shared sets stay there where a
 * hundred thousand would not.
 */
function sharedSets(): (values: readonly string[] | undefined) => ReadonlySet<string> {
  const seen = new Map<string, ReadonlySet<string>>();
  return (values) => {
    if (!values?.length) return ANY;
    const key = JSON.stringify(values);
    let shared = seen.get(key);
    if (!shared) seen.set(key, (shared = new Set(values)));
    return shared;
  };
}

function columnSelector(spec: RuleSpec['columns']): ColumnSelector {
  if (spec === undefined || spec === 'non-identifiers') return { kind: 'non-identifiers' };
  if (spec === 'all') return { kind: 'all' };
  if ('include' in spec) return { kind: 'include', columns: new Set(spec.include) };
  return { kind: 'except-categories', categories: new Set(spec.except_categories) };
}

/**
 * One selector object for every rule that selects the same columns: ten
 * thousand rules granting the same columns read one object (and its set),
 * which stays in cache.
 */
function sharedSelectors(): (spec: RuleSpec['columns']) => ColumnSelector {
  const seen = new Map<string, ColumnSelector>();
  return (spec) => {
    const key = JSON.stringify(spec ?? 'non-identifiers');
    let shared = seen.get(key);
    if (!shared) seen.set(key, (shared = Object.freeze(columnSelector(spec))));
    return shared;
  };
}

/** Transitive closure of role inheritance (each role includes itself); cycles are issues. */
export function closeRoles(roles: readonly RoleGraphEntry[], issues: PolicyIssue[]): Map<string, Set<string>> {
  const parents = new Map(roles.map((r) => [r.id, r.inherits]));
  const closure = new Map<string, Set<string>>();
  for (const r of roles) {
    const seen = new Set<string>([r.id]);
    const stack = [...r.inherits];
    while (stack.length) {
      const p = stack.pop()!;
      if (p === r.id) {
        issues.push({ document: 'roles', rule: r.id, field: 'inherits', message: `role ${r.id} inherits itself through a cycle` });
        continue;
      }
      if (seen.has(p)) continue;
      seen.add(p);
      if (!parents.has(p)) issues.push({ document: 'roles', rule: r.id, field: 'inherits', message: `unknown role ${p}` });
      stack.push(...(parents.get(p) ?? []));
    }
    closure.set(r.id, seen);
  }
  return closure;
}

/** Parses and validates one document, collecting issues (an invalid document yields no rules). */
export function parseRuleDocument(source: PolicySource, issues: PolicyIssue[]): { rules: RuleSpec[]; access?: AccessSpec | undefined } {
  let raw: { rules?: { id?: unknown }[] } | null;
  if (source.value !== undefined) {
    raw = source.value as typeof raw;
  } else {
    // YAML with duplicate keys refused (a later "effect: allow" must not silently win).
    const doc = parseDocument(source.text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length) {
      for (const e of doc.errors) issues.push({ document: source.name, message: `YAML: ${e.message.split('\n')[0]}` });
      return { rules: [] };
    }
    try {
      raw = doc.toJS({ maxAliasCount: 50 });
    } catch (err) {
      issues.push({ document: source.name, message: `YAML: ${(err as Error).message.split('\n')[0]}` });
      return { rules: [] };
    }
  }
  const parsed = RuleDocument.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const [top, index, ...rest] = i.path;
      // Inside a rule: the rule (its id, else its index) and the field within it; elsewhere (access, the
      // document itself) the whole path, so `access.requests.0.role` keeps its prefix.
      const inRule = top === 'rules' && typeof index === 'number';
      const ruleId = inRule ? raw!.rules![index]?.id : undefined;
      issues.push({
        document: source.name,
        rule: typeof ruleId === 'string' ? ruleId : inRule ? `rules[${index}]` : undefined,
        field: (inRule ? rest : i.path).join('.') || undefined,
        message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
      });
    }
    return { rules: [] };
  }
  return parsed.data;
}

/** Compiles documents and the role graph into a snapshot, or throws PolicyInvalidError. */
export function compilePolicy(options: CompilePolicyOptions): PolicySnapshot {
  const issues: PolicyIssue[] = [];
  const roleClosure = closeRoles(options.roles, issues);
  const knownRoles = new Set(options.roles.map((r) => r.id));
  const ids = new Map<string, string>();
  const rules: CompiledRule[] = [];
  // Rules often share a condition text: compile each distinct text once.
  const conditions = new Map<string, AnalysedCondition | ConditionError>();
  // Conditions that differ only in the ids they pin share the rest (conditionIndex.ts), and conjuncts their plain functions.
  const parts = sharedParts();
  const pinsOf = new Map<CompiledRule, ConditionPins>();
  const selector = sharedSelectors();
  const setOf = sharedSets();

  const accessLimits = new Map<string, AccessLimit>();
  let breakGlass: BreakGlassLimit | null = null;
  let breakGlassFrom: string | undefined;
  for (const source of options.documents) {
    const doc = parseRuleDocument(source, issues);
    const roleIssue = (field: string, role: string) => {
      if (!knownRoles.has(role)) issues.push({ document: source.name, field, message: `unknown role ${role}` });
    };
    doc.access?.requests?.forEach((l, i) => {
      const field = `access.requests.${i}`;
      roleIssue(`${field}.role`, l.role);
      l.approvers.forEach((r, j) => roleIssue(`${field}.approvers.${j}`, r));
      if (accessLimits.has(l.role)) issues.push({ document: source.name, field: `${field}.role`, message: `role ${l.role} has limits twice` });
      accessLimits.set(l.role, deepFreeze({ role: l.role, maxSeconds: durationSeconds(l.max_duration), approvals: l.approvals, approverRoles: [...new Set(l.approvers)] }));
    });
    const bg = doc.access?.break_glass;
    if (bg) {
      roleIssue('access.break_glass.role', bg.role);
      bg.eligible.forEach((r, j) => roleIssue(`access.break_glass.eligible.${j}`, r));
      if (breakGlassFrom) issues.push({ document: source.name, field: 'access.break_glass', message: `break-glass is also set in ${breakGlassFrom}` });
      breakGlassFrom = source.name;
      breakGlass = deepFreeze({ role: bg.role, eligibleRoles: [...new Set(bg.eligible)], maxSeconds: durationSeconds(bg.max_duration) });
    }
    for (const spec of doc.rules) {
      const where = { document: source.name, rule: spec.id };
      const dup = ids.get(spec.id);
      if (dup) issues.push({ ...where, field: 'id', message: `duplicate rule id (also in ${dup})` });
      ids.set(spec.id, source.name);
      spec.roles.forEach((r, i) => {
        if (!knownRoles.has(r)) issues.push({ ...where, field: `roles.${i}`, message: `unknown role ${r}` });
      });
      let compiled: AnalysedCondition | ConditionError | undefined;
      if (spec.when !== undefined) {
        compiled = conditions.get(spec.when);
        if (!compiled) {
          try {
            compiled = analyseCondition(spec.when, options.conditionLimits, parts);
          } catch (err) {
            compiled = err instanceof ConditionError ? err : new ConditionError('invalid condition');
          }
          conditions.set(spec.when, compiled);
        }
        if (compiled instanceof ConditionError) issues.push({ ...where, field: 'when', message: compiled.message });
      }
      const analysed = compiled instanceof ConditionError ? undefined : compiled;
      // The fields a decision reads of every rule it looks at come first, in the order it reads them: an object
      // of fourteen fields spans three cache lines, and one of fifty thousand rules is read from memory, not cache.
      const rule: CompiledRule = deepFreeze({
        effect: spec.effect,
        datasets: setOf(spec.resource?.datasets),
        projects: setOf(spec.resource?.projects),
        classifications: setOf(spec.resource?.classification),
        purposes: setOf(spec.purposes),
        condition: analysed?.evaluate ?? null,
        unmetReason: `condition of rule ${spec.id} not met`,
        columns: selector(spec.columns),
        id: spec.id,
        obligations: spec.obligations?.length ? (spec.obligations as Obligation[]) : NO_OBLIGATIONS,
        deniedReason: `denied by rule ${spec.id}`,
        roles: [...new Set(spec.roles)],
        actions: [...new Set(spec.actions)],
        conditionText: spec.when ?? null,
      });
      rules.push(rule);
      if (analysed) pinsOf.set(rule, analysed.pins);
    }
  }
  if (issues.length) throw new PolicyInvalidError(issues);
  const index = indexRules(rules, pinsOf);

  const version =
    options.version ??
    createHash('sha256')
      // Order-independent role graph: the same policy has the same version offline and on the server.
      .update(JSON.stringify({ d: options.documents.map((d) => [d.name, d.value === undefined ? d.text : JSON.stringify(d.value)]), r: [...options.roles].map((r) => [r.id, [...r.inherits].sort()]).sort() }))
      .digest('hex')
      .slice(0, 16);
  return Object.freeze({
    version,
    accessLimits,
    breakGlass,
    rules: Object.freeze(rules),
    index,
    roleClosure,
    mayRefuse,
  });
}

/** Where a rule is filed in each of its buckets: under principal ids, under dataset ids, or with the rest. */
function filing(rule: CompiledRule, pins: ConditionPins | undefined): { byPrincipal?: ReadonlySet<string>; byDataset?: ReadonlySet<string>; pinned: boolean } {
  // Principal first: there are far more principals than datasets, so a principal's list is the shorter one.
  if (pins?.principals) return { byPrincipal: pins.principals, pinned: true };
  if (pins?.datasets) {
    // Both resource.datasets and the condition restrict the dataset: only ids in both can match.
    const ids = rule.datasets.size ? new Set([...pins.datasets].filter((d) => rule.datasets.has(d))) : pins.datasets;
    return { byDataset: ids, pinned: true };
  }
  return rule.datasets.size ? { byDataset: rule.datasets, pinned: false } : { pinned: false };
}

/**
 * action → role → bucket (see RuleBucket). A rule is filed under every
 * action and role it names; within a bucket, under the principals or
 * datasets it is restricted to. An empty set of ids (a condition pinning
 * disjoint ids) files it under none: it can never hold, save a deny that
 * refuses to evaluate, which is in pinnedDenies like every pinned deny.
 */
function indexRules(rules: readonly CompiledRule[], pinsOf: ReadonlyMap<CompiledRule, ConditionPins>): ReadonlyMap<string, ReadonlyMap<string, RuleBucket>> {
  type Bucket = { byPrincipal: Map<string, CompiledRule[]>; byDataset: Map<string, CompiledRule[]>; rest: CompiledRule[]; pinnedDenies: CompiledRule[] };
  const file = (map: Map<string, CompiledRule[]>, ids: ReadonlySet<string>, rule: CompiledRule) => {
    for (const id of ids) {
      const list = map.get(id);
      if (list) list.push(rule);
      else map.set(id, [rule]);
    }
  };
  const index = new Map<string, Map<string, Bucket>>();
  for (const rule of rules) {
    const where = filing(rule, pinsOf.get(rule));
    for (const action of rule.actions) {
      let byRole = index.get(action);
      if (!byRole) index.set(action, (byRole = new Map()));
      for (const role of rule.roles) {
        let bucket = byRole.get(role);
        if (!bucket) byRole.set(role, (bucket = { byPrincipal: new Map(), byDataset: new Map(), rest: [], pinnedDenies: [] }));
        if (where.byPrincipal) file(bucket.byPrincipal, where.byPrincipal, rule);
        else if (where.byDataset) file(bucket.byDataset, where.byDataset, rule);
        else bucket.rest.push(rule);
        if (where.pinned && rule.effect === 'deny') bucket.pinnedDenies.push(rule);
      }
    }
  }
  return index;
}
