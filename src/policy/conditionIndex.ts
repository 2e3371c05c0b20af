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
 * Conservative by construction: only operands of `&&` count (an `||`, a
 * negation, a ternary or a comprehension around a comparison may hold without
 * it), only the exact field `principal.id` / `resource.id` (not `principal["id"]`,
 * not an attribute), and only string literals (not bytes, numbers, or an
 * expression such as `"a" + "b"`).
 */
import type { ASTNode } from '@marcbachmann/cel-js';

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
function conjuncts(node: ASTNode, out: ASTNode[]): ASTNode[] {
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

/** What a parsed condition pins (several pins of one variable: the ids all of them allow). */
export function conditionPins(ast: ASTNode): ConditionPins {
  const found: { principals: Set<string> | null; datasets: Set<string> | null } = { principals: null, datasets: null };
  for (const c of conjuncts(ast, [])) {
    const pin = pinOf(c);
    if (!pin) continue;
    const key = PINNABLE[pin.variable];
    const prior = found[key];
    found[key] = new Set(prior ? pin.ids.filter((id) => prior.has(id)) : pin.ids);
  }
  return found;
}
