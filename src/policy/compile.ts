/**
 * Compiles policy documents into an immutable, indexed PolicySnapshot:
 * parse YAML, validate against the schema, check cross-references, compile
 * conditions, index rules by action and role, and close the role graph.
 * Every problem is reported with its document, rule and field.
 */
import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import type { AccessLimit, BreakGlassLimit, ColumnSelector, CompiledRule, PolicySnapshot, RuleBucket } from '../engine/snapshot.ts';
import type { Obligation } from '../engine/types.ts';
import { CustosError } from '../errors.ts';
import { compileCondition, ConditionError } from './condition.ts';
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

function columnSelector(spec: RuleSpec['columns']): ColumnSelector {
  if (spec === undefined || spec === 'non-identifiers') return { kind: 'non-identifiers' };
  if (spec === 'all') return { kind: 'all' };
  if ('include' in spec) return { kind: 'include', columns: [...spec.include] };
  return { kind: 'except-categories', categories: [...spec.except_categories] };
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
  const conditions = new Map<string, ReturnType<typeof compileCondition> | ConditionError>();

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
      let condition = null;
      if (spec.when !== undefined) {
        let compiled = conditions.get(spec.when);
        if (!compiled) {
          try {
            compiled = compileCondition(spec.when, options.conditionLimits);
          } catch (err) {
            compiled = err instanceof ConditionError ? err : new ConditionError('invalid condition');
          }
          conditions.set(spec.when, compiled);
        }
        if (compiled instanceof ConditionError) issues.push({ ...where, field: 'when', message: compiled.message });
        else condition = compiled;
      }
      rules.push(deepFreeze({
        id: spec.id,
        effect: spec.effect,
        roles: [...new Set(spec.roles)],
        actions: [...new Set(spec.actions)],
        datasets: new Set(spec.resource?.datasets ?? []),
        projects: new Set(spec.resource?.projects ?? []),
        classifications: new Set(spec.resource?.classification ?? []),
        purposes: new Set(spec.purposes ?? []),
        condition,
        conditionText: spec.when ?? null,
        columns: columnSelector(spec.columns),
        obligations: (spec.obligations ?? []) as Obligation[],
      }));
    }
  }
  if (issues.length) throw new PolicyInvalidError(issues);

  const index = new Map<string, Map<string, { byDataset: Map<string, CompiledRule[]>; rest: CompiledRule[] }>>();
  for (const rule of rules) {
    for (const action of rule.actions) {
      let byRole = index.get(action);
      if (!byRole) index.set(action, (byRole = new Map()));
      for (const role of rule.roles) {
        let bucket = byRole.get(role);
        if (!bucket) byRole.set(role, (bucket = { byDataset: new Map(), rest: [] }));
        if (rule.datasets.size) {
          for (const d of rule.datasets) {
            const list = bucket.byDataset.get(d);
            if (list) list.push(rule);
            else bucket.byDataset.set(d, [rule]);
          }
        } else bucket.rest.push(rule);
      }
    }
  }

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
    index: index as ReadonlyMap<string, ReadonlyMap<string, RuleBucket>>,
    roleClosure,
  });
}
