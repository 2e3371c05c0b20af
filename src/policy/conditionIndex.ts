/**
 * Which principals and datasets a condition can hold for at all, read off its
 * parsed CEL: a conjunct `principal.id == "lit"` (either way round) or
 * `principal.id in ["lit", …]` pins the principal, the same with
 * `resource.id` pins the dataset. The compiler files such a rule under those
 * ids only (policy/compile.ts), so a decision never looks at the stewardship
 * rules of ten thousand other principals.
 *
 * Why it is sound: CEL's `&&` is commutative and absorbs errors — one false
 * operand makes the whole chain false, whatever the others evaluate to or
 * throw (cel-js: the left operand is evaluated under try, and
 * `error && false` is false). So when the pinned id is not the request's,
 * the condition is false, never an error, and the rule cannot apply. The
 * one way it could still apply is a deny whose condition refuses to run at
 * all over its cost budget; decide() covers that case itself
 * (RuleBucket.pinnedDenies). The condition is still evaluated in full for the
 * ids it names: the index only filters.
 *
 * The same reading evaluates such a condition ({@link conjunctionEvaluator}):
 * its pins first, then the other conjuncts, those of the typed subset as
 * plain functions (conditionNative.ts) and the rest as one CEL expression.
 * Ten thousand stewardship rules differ only in their pins; their rest
 * (`resource.project in principal.projects`) is compiled once and stays warm
 * in the processor's caches, where ten thousand copies of it would not.
 *
 * Conservative by construction: only operands of `&&` count (an `||`, a
 * negation, a ternary or a comprehension around a comparison may hold without
 * it), only the exact field `principal.id` / `resource.id` (not `principal["id"]`,
 * not an attribute), and only string literals (not bytes, numbers, or an
 * expression such as `"a" + "b"`).
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import type { ConditionContext } from '../engine/snapshot.ts';

/**
 * The ids a condition can hold for. null: not pinned (any id). A set: only
 * these — an empty one when two conjuncts pin disjoint ids, so the condition
 * can hold for no id at all.
 */
export interface ConditionPins {
  principals: ReadonlySet<string> | null;
  datasets: ReadonlySet<string> | null;
}

/** The variables whose `id` a conjunct may pin, and where their ids go. */
const PINNABLE = { principal: 'principals', resource: 'datasets' } as const;
type Pinnable = keyof typeof PINNABLE;

/** Operands of `&&`, however parenthesised: `a && (b && c)` is as much a conjunction as `a && b && c`. */
export function conjuncts(node: ASTNode, out: ASTNode[] = []): ASTNode[] {
  if (node.op === '&&') {
    conjuncts(node.args[0], out);
    conjuncts(node.args[1], out);
  } else out.push(node);
  return out;
}

/** `principal.id` or `resource.id`, exactly: the variable itself, then the field by name. */
function pinnableId(node: ASTNode): Pinnable | null {
  if (node.op !== '.' || node.args[1] !== 'id') return null;
  const base = node.args[0];
  return base.op === 'id' && Object.hasOwn(PINNABLE, base.args) ? (base.args as Pinnable) : null;
}

/** A string literal's value (a bytes literal is not a string, and does not equal one). */
function stringLiteral(node: ASTNode): string | null {
  return node.op === 'value' && typeof node.args === 'string' ? node.args : null;
}

/** What one conjunct pins, if it is `x.id == "lit"`, `"lit" == x.id` or `x.id in ["lit", …]`. */
function pinOf(node: ASTNode): { variable: Pinnable; ids: string[] } | null {
  if (node.op === '==') {
    const [a, b] = node.args;
    const variable = pinnableId(a) ?? pinnableId(b);
    const lit = pinnableId(a) ? stringLiteral(b) : stringLiteral(a);
    return variable && lit !== null ? { variable, ids: [lit] } : null;
  }
  if (node.op === 'in') {
    const [a, list] = node.args;
    const variable = pinnableId(a);
    if (!variable || list.op !== 'list') return null;
    const ids: string[] = [];
    for (const element of list.args) {
      const lit = stringLiteral(element);
      if (lit === null) return null;
      ids.push(lit);
    }
    return { variable, ids };
  }
  return null;
}

/**
 * A flat copy of an id. Literals are slices of the condition's text: as set
 * members and index keys they would keep the text alive and cost a lookup
 * several times as much (in 50,000 principals: about 1.2 µs instead of 0.4).
 */
function flatCopy(id: string): string {
  return JSON.parse(JSON.stringify(id)) as string;
}

/**
 * What a parsed condition pins (several pins of one variable: the ids all of
 * them allow), and its other conjuncts, in order.
 */
export function splitPins(ast: ASTNode): { pins: ConditionPins; rest: ASTNode[] } {
  const found: { principals: Set<string> | null; datasets: Set<string> | null } = { principals: null, datasets: null };
  const rest: ASTNode[] = [];
  for (const c of conjuncts(ast, [])) {
    const pin = pinOf(c);
    if (!pin) {
      rest.push(c);
      continue;
    }
    const key = PINNABLE[pin.variable];
    const prior = found[key];
    found[key] = new Set((prior ? pin.ids.filter((id) => prior.has(id)) : pin.ids).map(flatCopy));
  }
  return { pins: found, rest };
}

/** What a parsed condition pins. */
export function conditionPins(ast: ASTNode): ConditionPins {
  return splitPins(ast).pins;
}

/**
 * A condition's cost check: `ordinary` (shared by every condition) answers
 * whether a context lies within the sizes the condition's cost was checked
 * for when compiled; `check`, the condition's own, estimates it for any other
 * context and throws when it is over the budget.
 */
export interface Budget {
  ordinary: (ctx: ConditionContext) => boolean;
  check: (ctx: ConditionContext) => void;
}

/**
 * Evaluates a condition split into its conjuncts as CEL would, after its
 * cost check: false when the context's id is not pinned (a false operand
 * makes && false, whatever the others do), false when a conjunct compiled to
 * a plain function is false (those never raise an error:
 * conditionNative.ts); otherwise the value of the other conjuncts (`rest`,
 * compiled as one `&&` expression; null when there are none), which must be
 * a boolean — in CEL a non-boolean operand of && is an error, and so it is
 * here.
 *
 * One function per rule, holding all it reads: of fifty thousand
 * stewardship rules, the one a decision evaluates is far away in memory,
 * and each object between it and its answer costs a fetch. A pin of one id
 * is compared as a string: the same string the index filed the rule under,
 * which the lookup that found the rule has just read.
 */
export function conjunctionEvaluator(
  pins: ConditionPins,
  natives: readonly ((ctx: ConditionContext) => boolean)[],
  rest: ((ctx: ConditionContext) => unknown) | null,
  budget: Budget,
): (ctx: ConditionContext) => boolean {
  const only = (ids: ReadonlySet<string> | null) => (ids?.size === 1 ? [...ids][0]! : null);
  const principal = only(pins.principals);
  const principals = principal === null ? pins.principals : null;
  const dataset = only(pins.datasets);
  const datasets = dataset === null ? pins.datasets : null;
  const { ordinary, check } = budget;
  return (ctx) => {
    if (!ordinary(ctx)) check(ctx);
    if (principal !== null ? ctx.principal.id !== principal : principals && !principals.has(ctx.principal.id)) return false;
    if (dataset !== null ? ctx.resource.id !== dataset : datasets && !datasets.has(ctx.resource.id)) return false;
    for (const native of natives) if (!native(ctx)) return false;
    if (!rest) return true;
    const value = rest(ctx);
    if (typeof value !== 'boolean') throw new TypeError(`an operand of && is not a boolean: ${typeof value}`);
    return value;
  };
}
