/**
 * decide(request, snapshot) → Decision. Pure and synchronous: everything it
 * needs is in its arguments, including the time. Deny overrides every allow,
 * through any role or grant; no matching allow means deny; an allow grants
 * columns and the request may use no others (minimum necessary). Break-glass
 * grants count only for the `emergency` purpose, and only they count for it.
 */
import { grantsColumn, isColumn } from './columns.ts';
import { conditionContext, distinct, grantCovers, grantInForce, membershipGrants, type CompiledRule, type ConditionContext, type GrantMode, type PolicySnapshot, type RuleBucket } from './snapshot.ts';
import type { Decision, DecisionInput, GrantFacts, Obligation, PrincipalFacts } from './types.ts';

/** The purpose reserved for break-glass access. */
export const EMERGENCY = 'emergency';

/** How a principal holds a role for this request: standing, or only through grants. */
interface Holding {
  standing: boolean;
  /** NO_GRANTS until a grant is added (never pushed onto: replaced). */
  grants: readonly GrantFacts[];
  /** Grants without which the rule's condition would not have held: they made the principal a member of the dataset's project (relied on, too). */
  membership?: readonly GrantFacts[];
}

/** UTC calendar date of a millisecond time. */
function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The roles a principal holds for a dataset at `now`: standing roles of the
 * dataset's project or organisation-wide, plus grants in force, each expanded
 * through role inheritance.
 */
export function effectiveRoles(
  principal: PrincipalFacts,
  input: Pick<DecisionInput, 'now' | 'dataset'>,
  snapshot: PolicySnapshot,
  breakGlass: GrantMode = 'any',
): Map<string, Holding> {
  const held = new Map<string, Holding>();
  if (breakGlass !== 'only') for (const b of principal.roles) if (b.project === null || b.project === input.dataset.project) holdRole(held, snapshot, b.role, null);
  for (const g of principal.grants) {
    if ((breakGlass === 'only' && !g.breakGlass) || (breakGlass === 'none' && g.breakGlass)) continue;
    if (!grantInForce(g, input.now) || !grantCovers(g, input.dataset)) continue;
    holdRole(held, snapshot, g.role, g);
  }
  return held;
}

/** Adds a role and every role it inherits to `held`: standing, or through `grant`. */
function holdRole(held: Map<string, Holding>, snapshot: PolicySnapshot, role: string, grant: GrantFacts | null): void {
  const closure = snapshot.roleClosure.get(role);
  if (!closure) return holdOne(held, role, grant);
  for (const r of closure) holdOne(held, r, grant);
}

function holdOne(held: Map<string, Holding>, role: string, grant: GrantFacts | null): void {
  let h = held.get(role);
  if (!h) held.set(role, (h = { standing: false, grants: NO_GRANTS }));
  if (grant) h.grants = [...h.grants, grant];
  else h.standing = true;
}

/** A rule's condition on a context; one that cannot be evaluated never lets an allow apply and always lets a deny apply (fail closed). */
function holds(rule: CompiledRule, ctx: ConditionContext): boolean {
  try {
    return rule.condition!(ctx) === true;
  } catch {
    return rule.effect === 'deny';
  }
}

/** No grants (shared: no allocation on the common path). */
const NO_GRANTS: readonly GrantFacts[] = Object.freeze([]);
/** Nothing relied on for membership. */
const NO_MEMBERSHIP = NO_GRANTS;

/**
 * Whether a rule applies to the request: false, or the grants whose
 * membership its condition needed (usually none). The condition sees the
 * principal as a member of the dataset's project when a grant of the rule's
 * roles is scoped there; such a grant is relied on only if the condition
 * would not hold without it.
 */
function ruleApplies(
  rule: CompiledRule,
  input: DecisionInput,
  snapshot: PolicySnapshot,
  mode: GrantMode,
  base: () => ConditionContext,
  failedConditions: string[],
  foundByDataset: boolean,
): false | readonly GrantFacts[] {
  // A rule found under the request's dataset is filed only under ids of its resource.datasets (when it names any): the check
  // would read a set of the rule's own, one more object away in memory for nothing.
  if (!foundByDataset && rule.datasets.size && !rule.datasets.has(input.dataset.id)) return false;
  if (rule.projects.size && !rule.projects.has(input.dataset.project)) return false;
  if (rule.classifications.size && !rule.classifications.has(input.dataset.classification)) return false;
  if (rule.purposes.size && !rule.purposes.has(input.purpose)) return false;
  if (!rule.condition) return NO_MEMBERSHIP;
  const via = membershipGrants(input, rule, snapshot, mode);
  if (!holds(rule, via.length ? conditionContext(input, via) : base())) {
    failedConditions.push(rule.unmetReason);
    return false;
  }
  // Held with the membership; a second evaluation, only in this rare case, tells whether it was needed.
  return via.length && !holds(rule, base()) ? via : NO_MEMBERSHIP;
}

/**
 * The lists of a bucket a request can match, in order: its dataset's, its
 * principal's, the rest — and, when its conditions may refuse to evaluate,
 * every pinned deny (a refusing deny applies whoever it pins).
 */
function listOf(bucket: RuleBucket, input: DecisionInput, pass: number, refusing: () => boolean): readonly CompiledRule[] | undefined {
  switch (pass) {
    case 0:
      return bucket.byDataset.get(input.dataset.id);
    case 1:
      // The principal being decided (the sponsor, for a service's second decision): the id its conditions see.
      return bucket.byPrincipal.get(input.principal.id);
    case 2:
      return bucket.rest;
    default:
      return bucket.pinnedDenies.length && refusing() ? bucket.pinnedDenies : undefined;
  }
}

/**
 * The rules of the held roles this request reaches, each once: with how it
 * is held when it applies, false when it was looked at and does not (one map
 * for both, so a rule reached through two roles is evaluated once).
 */
function matchingRules(input: DecisionInput, snapshot: PolicySnapshot, held: Map<string, Holding>, failedConditions: string[], mode: GrantMode): Map<CompiledRule, Holding | false> {
  const byAction = snapshot.index.get(input.action);
  const out = new Map<CompiledRule, Holding | false>();
  if (!byAction) return out;
  // One context for every rule; grants may add the dataset's project to it, only for rules of the roles they confer.
  let ctx: ConditionContext | undefined;
  const base = () => (ctx ??= conditionContext(input));
  // The widest context a condition of this request can see: with the dataset's project, if any grant could make it a member.
  let refuses: boolean | undefined;
  const refusing = () => (refuses ??= snapshot.mayRefuse(input.principal.grants.length ? conditionContext(input, input.principal.grants) : base()));
  for (const [role, holding] of held) {
    const bucket = byAction.get(role);
    if (!bucket) continue;
    for (let pass = 0; pass < 4; pass++) {
      const list = listOf(bucket, input, pass, refusing);
      if (!list) continue;
      for (const rule of list) {
        // A pinned deny already met in this bucket through its id (pass 0 or 1) is not counted twice for one role.
        if (pass === 3 && (bucket.byPrincipal.get(input.principal.id)?.includes(rule) || bucket.byDataset.get(input.dataset.id)?.includes(rule))) continue;
        const prior = out.get(rule);
        if (prior) {
          // Held through several roles: standing wins; otherwise remember every grant that enables it.
          prior.standing ||= holding.standing;
          if (holding.grants.length) prior.grants = [...prior.grants, ...holding.grants];
          continue;
        }
        if (prior === false) continue;
        const membership = ruleApplies(rule, input, snapshot, mode, base, failedConditions, pass === 0);
        if (membership === false) out.set(rule, false);
        else out.set(rule, membership.length ? { standing: holding.standing, grants: holding.grants, membership } : { standing: holding.standing, grants: holding.grants });
      }
    }
  }
  return out;
}

/**
 * The rule-level effect alone (roles, grants, inheritance, resource, purpose,
 * condition, deny-overrides), without prerequisites, columns or sponsor: the
 * part that must agree with plain casbin on policies/model.conf.
 */
export function ruleEffect(input: DecisionInput, snapshot: PolicySnapshot, breakGlass: GrantMode = 'any'): 'allow' | 'deny' {
  const held = effectiveRoles(input.principal, input, snapshot, breakGlass);
  let allow = false;
  for (const [r, h] of matchingRules(input, snapshot, held, [], breakGlass)) {
    if (!h) continue;
    if (r.effect === 'deny') return 'deny';
    allow = true;
  }
  return allow ? 'allow' : 'deny';
}

/** A deny: the rules that decided it and, for a deny by column, the columns granted and refused (written out, not spread: most decisions are denies). */
function deny(snapshot: PolicySnapshot, reasons: string[], extra?: Pick<Decision, 'rules'> & Partial<Pick<Decision, 'grantedColumns' | 'deniedColumns'>>): Decision {
  return {
    effect: 'deny',
    rules: extra ? extra.rules : [],
    reasons,
    grantedColumns: extra?.grantedColumns ?? [],
    deniedColumns: extra?.deniedColumns ?? [],
    obligations: [],
    grantIds: [],
    grantsExpireAt: null,
    breakGlass: false,
    policyVersion: snapshot.version,
  };
}

/**
 * The held roles' names in sorted order, joined by ", ", for a deny's reason.
 * Most decisions are denies, and a principal holds a few roles: an insertion
 * sort into one array and a running concatenation allocate a fraction of
 * what spreading the keys, sorting and joining did.
 */
function roleNames(held: ReadonlyMap<string, Holding>): string {
  const names: string[] = [];
  for (const role of held.keys()) {
    let i = names.length;
    names.push(role);
    for (; i > 0 && names[i - 1]! > role; i--) names[i] = names[i - 1]!;
    names[i] = role;
  }
  let out = names[0] ?? '';
  for (let i = 1; i < names.length; i++) out += `, ${names[i]!}`;
  return out;
}

/** Checks that do not depend on rules: status, purpose, BAA, column names. The reasons to refuse, or undefined (nothing allocated) when there are none. */
function prerequisites(input: DecisionInput, principal: PrincipalFacts): string[] | undefined {
  let reasons: string[] | undefined;
  const refuse = (why: string) => (reasons ??= []).push(why);
  const ds = input.dataset;
  if (principal.status !== 'active') refuse(`principal ${principal.id} is disabled`);
  if (!ds.purposes.includes(input.purpose)) refuse(`purpose ${input.purpose} is not permitted for dataset ${ds.id}`);
  if (principal.vendorId) {
    const today = utcDay(input.now);
    const active = principal.baas.filter((b) => b.effectiveOn <= today && today < b.expiresOn);
    if (!active.length) refuse(`vendor ${principal.vendorId} has no active BAA`);
    else if (!active.some((b) => b.purposes.includes(input.purpose))) refuse(`purpose ${input.purpose} is not in the BAA of vendor ${principal.vendorId}`);
    else if (!active.some((b) => b.purposes.includes(input.purpose) && b.classifications.includes(ds.classification)))
      refuse(`classification ${ds.classification} is not in the BAA of vendor ${principal.vendorId}`);
  }
  if (input.columns === '*') {
    if (ds.classification !== 'deidentified') refuse(`columns "*" are refused on ${ds.classification} dataset ${ds.id}: list the columns needed`);
  } else {
    if (!input.columns.length) refuse('no columns requested: list the columns needed');
    let unknown: string[] | undefined;
    for (const c of input.columns) if (!isColumn(ds, c)) (unknown ??= []).push(c);
    if (unknown) refuse(`unknown column(s): ${unknown.join(', ')}`);
  }
  return reasons;
}

function decideFor(outer: DecisionInput, snapshot: PolicySnapshot, principal: PrincipalFacts): Decision {
  // Conditions and roles must see the principal being decided (the sponsor, when attenuating), not the caller.
  const input = principal === outer.principal ? outer : { ...outer, principal };
  const pre = prerequisites(input, principal);
  if (pre) return deny(snapshot, pre);

  // The emergency purpose belongs to break-glass: only break-glass grants carry an allow for it, and they carry
  // none for anything else. Denies apply through every role and grant the principal holds, whatever the purpose.
  const emergency = input.purpose === EMERGENCY;
  const gate: GrantMode = emergency ? 'only' : 'none';
  const held = effectiveRoles(principal, input, snapshot, gate);
  // The reasons of rules whose condition was not met (CompiledRule.unmetReason).
  const failedConditions: string[] = [];
  const gated = emergency || principal.grants.some((g) => g.breakGlass);
  const denies: CompiledRule[] = [];
  if (gated) for (const [r, h] of matchingRules(input, snapshot, effectiveRoles(principal, input, snapshot, 'any'), [], 'any')) if (h && r.effect === 'deny') denies.push(r);
  if (emergency && !held.size && !denies.length) return deny(snapshot, [`purpose ${EMERGENCY} needs an active break-glass grant covering dataset ${input.dataset.id}`]);
  const matched = matchingRules(input, snapshot, held, failedConditions, gate);
  const allows: [CompiledRule, Holding][] = [];
  for (const [r, h] of matched) {
    if (!h) continue;
    if (r.effect === 'allow') allows.push([r, h]);
    else if (!denies.includes(r)) denies.push(r);
  }
  if (denies.length) {
    return deny(snapshot, denies.map((r) => r.deniedReason), { rules: denies.map((r) => r.id).sort() });
  }
  if (!allows.length) {
    const reasons = [
      held.size
        ? `no rule allows ${input.action} on ${input.dataset.classification} dataset ${input.dataset.id} for purpose ${input.purpose} with role(s) ${roleNames(held)}`
        : `no role (standing or active grant) applies to dataset ${input.dataset.id} in project ${input.dataset.project}`,
    ];
    for (const why of failedConditions) reasons.push(why);
    // Only grants whose scope covers the dataset explain this deny: another project's grant had no part in it.
    if (principal.grants.length) {
      const expired = principal.grants.filter((g) => g.expiresAt <= input.now && grantCovers(g, input.dataset));
      if (expired.length) reasons.push(`grant(s) ${expired.map((g) => g.id).join(', ')} expired`);
      const early = principal.grants.filter((g) => g.notBefore > input.now && grantCovers(g, input.dataset));
      if (early.length) reasons.push(`grant(s) ${early.map((g) => g.id).join(', ')} not yet active`);
    }
    return deny(snapshot, reasons);
  }

  const ds = input.dataset;
  const requested = input.columns === '*' ? ds.columns.map((c) => c.name) : distinct(input.columns);
  // The deciding allows: those that grant at least one requested column, met column by column (plain loops: every
  // allow passes here, and closures per column cost more than the lookups they wrap).
  const deciding = new Map<CompiledRule, Holding>();
  let missing: string[] | undefined;
  for (const c of requested) {
    let met = false;
    for (const [rule, holding] of allows) {
      if (!grantsColumn(rule.columns, ds, c)) continue;
      met = true;
      deciding.set(rule, holding);
    }
    if (!met) (missing ??= []).push(c);
  }
  if (missing) {
    const grantedColumns = ds.columns.map((c) => c.name).filter((c) => allows.some(([rule]) => grantsColumn(rule.columns, ds, c)));
    return deny(snapshot, [`column(s) ${missing.join(', ')} not granted (granted: ${grantedColumns.join(', ') || 'none'})`], {
      grantedColumns,
      deniedColumns: missing,
      rules: allows.map(([r]) => r.id).sort(),
    });
  }
  // One pass over the deciding rules: their ids, obligations and the grants relied on.
  const rules: string[] = [];
  const obligations: Obligation[] = [];
  let reliedGrants: Map<string, GrantFacts> | undefined;
  for (const [r, h] of deciding) {
    rules.push(r.id);
    for (const o of r.obligations) obligations.push(o);
    if (!h.standing) for (const g of h.grants) (reliedGrants ??= new Map()).set(g.id, g);
    // A grant that made the principal a member for a deciding rule's condition is relied on too.
    if (h.membership) for (const g of h.membership) (reliedGrants ??= new Map()).set(g.id, g);
  }
  const grants = reliedGrants ? [...reliedGrants.values()] : NO_GRANTS;
  return {
    effect: 'allow',
    rules: rules.sort(),
    reasons: [],
    grantedColumns: requested.slice(),
    deniedColumns: [],
    obligations: dedupeObligations(obligations),
    grantIds: grants.map((g) => g.id).sort(),
    grantsExpireAt: grants.length ? Math.min(...grants.map((g) => g.expiresAt)) : null,
    breakGlass: grants.some((g) => g.breakGlass),
    policyVersion: snapshot.version,
  };
}

const obligationKeys = new WeakMap<Obligation, string>();

/** A canonical text of an obligation (keys sorted), memoised: obligations are frozen parts of a snapshot. */
function obligationKey(o: Obligation): string {
  let k = obligationKeys.get(o);
  if (k === undefined) obligationKeys.set(o, (k = JSON.stringify(o, Object.keys(o).sort())));
  return k;
}

/** The obligations without repeats, in order: `list` itself (each caller's own) when it has fewer than two. */
function dedupeObligations(list: Obligation[]): Obligation[] {
  if (list.length < 2) return list;
  const seen = new Map<string, Obligation>();
  for (const o of list) seen.set(obligationKey(o), o);
  return [...seen.values()];
}

/**
 * Decides one request. A service never gets more than its sponsor could get
 * for the same request now: the sponsor is decided too and must allow.
 */
export function decide(input: DecisionInput, snapshot: PolicySnapshot): Decision {
  const own = decideFor(input, snapshot, input.principal);
  const sponsor = input.principal.kind === 'service' ? input.principal.sponsor : undefined;
  if (input.principal.kind === 'service' && !sponsor) return deny(snapshot, [`service ${input.principal.id} has no sponsor`]);
  if (!sponsor || own.effect === 'deny') return own;
  if (sponsor.status !== 'active') return deny(snapshot, [`sponsor ${sponsor.id} is disabled`]);
  const theirs = decideFor(input, snapshot, sponsor);
  if (theirs.effect === 'deny') {
    return deny(snapshot, theirs.reasons.map((r) => `sponsor lacks access: ${r}`), { rules: theirs.rules });
  }
  return {
    ...own,
    rules: [...new Set([...own.rules, ...theirs.rules])].sort(),
    obligations: dedupeObligations([...own.obligations, ...theirs.obligations]),
    grantIds: [...new Set([...own.grantIds, ...theirs.grantIds])].sort(),
    grantsExpireAt: [own.grantsExpireAt, theirs.grantsExpireAt].filter((x): x is number => x !== null).reduce<number | null>((a, b) => (a === null ? b : Math.min(a, b)), null),
    breakGlass: own.breakGlass || theirs.breakGlass,
  };
}
