/**
 * Conjuncts compiled to plain functions, for the part of CEL where doing so
 * cannot change an answer: string fields of the context and string literals
 * compared with `==` and `!=`, `in` a list of strings (a field, or a list of
 * string literals), the literals `true` and `false`, and `&&`, `||`, `!` and
 * `?:` over those. `resource.project in principal.projects`, the rest of
 * every stewardship rule, is one of them.
 *
 * Why it is exact: every operand in this subset has a static type (a field
 * the environment declares as `string` or `list<string>`, or a literal), so
 * nothing in it can raise an error in CEL — no missing key, no overload
 * without a match, no heterogeneous comparison. Without errors, CEL's `&&`,
 * `||`, `!` and `?:` are the boolean operators of JavaScript, its string
 * equality is `===` (both compare the same sequence of code points), and `in`
 * over a list is `includes`. Anything else — a `dyn` attribute, a number, a
 * call, a comprehension, a map, an index, a field the context does not
 * declare — is left to the CEL evaluator, whole: {@link nativeOf} answers
 * null. The tests evaluate random conditions both ways on random contexts.
 *
 * The context is the one conditionContext() builds from typed facts; a
 * field that is not of its declared type (which would be a bug upstream)
 * throws here, as the CEL evaluator would refuse it too, so that the engine
 * fails closed.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import type { ConditionContext } from '../engine/snapshot.ts';

/** A conjunct compiled to a function of the context. */
export type NativeCondition = (ctx: ConditionContext) => boolean;

type Str = (ctx: ConditionContext) => string;
type List = (ctx: ConditionContext) => readonly string[];

/** The context's fields of a static type, as the environment declares them (policy/condition.ts). */
const STRING_FIELDS: Record<string, readonly string[]> = {
  principal: ['id', 'kind', 'vendor'],
  resource: ['id', 'project', 'owner', 'classification'],
  request: ['action', 'purpose'],
};
const LIST_FIELDS: Record<string, readonly string[]> = {
  principal: ['projects'],
  resource: ['purposes'],
  request: ['columns'],
};

/** A field of the context outside the declared types: refused, as CEL refuses it. */
function mistyped(path: string): never {
  throw new TypeError(`${path} is not of its declared type`);
}

/** `variable.field`, when the node is exactly that, with the variable one of the context's three. */
function fieldOf(node: ASTNode): { variable: 'principal' | 'resource' | 'request'; field: string } | null {
  if (node.op !== '.' || typeof node.args[1] !== 'string') return null;
  const base = node.args[0] as ASTNode;
  if (base.op !== 'id' || (base.args !== 'principal' && base.args !== 'resource' && base.args !== 'request')) return null;
  return { variable: base.args, field: node.args[1] };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isList = (v: unknown): v is readonly string[] => Array.isArray(v);

/** Reads a field of the context, refusing a value that is not of the field's declared type. */
function reader<T>(variable: 'principal' | 'resource' | 'request', field: string, ok: (v: unknown) => v is T): (ctx: ConditionContext) => T {
  const path = `${variable}.${field}`;
  return (ctx) => {
    const v = (ctx[variable] as unknown as Record<string, unknown>)[field];
    return ok(v) ? v : mistyped(path);
  };
}

/** A string-typed operand: a declared string field or a string literal. */
function stringOf(node: ASTNode): Str | null {
  if (node.op === 'value') {
    if (typeof node.args !== 'string') return null;
    const value: string = node.args;
    return () => value;
  }
  const f = fieldOf(node);
  return f && STRING_FIELDS[f.variable]!.includes(f.field) ? reader(f.variable, f.field, isString) : null;
}

/** A list-of-strings operand: a declared list field, or a list literal of string literals. */
function listOf(node: ASTNode): List | null {
  if (node.op === 'list') {
    const values: string[] = [];
    for (const element of node.args as ASTNode[]) {
      if (element.op !== 'value' || typeof element.args !== 'string') return null;
      values.push(element.args);
    }
    return () => values;
  }
  const f = fieldOf(node);
  return f && LIST_FIELDS[f.variable]!.includes(f.field) ? reader(f.variable, f.field, isList) : null;
}

/** The condition as a plain function, or null when any part of it is outside the subset above. */
export function nativeOf(node: ASTNode): NativeCondition | null {
  switch (node.op) {
    case 'value': {
      if (typeof node.args !== 'boolean') return null;
      const value: boolean = node.args;
      return () => value;
    }
    case '==':
    case '!=': {
      const a = stringOf(node.args[0]);
      const b = a && stringOf(node.args[1]);
      if (!a || !b) return null;
      return node.op === '==' ? (ctx) => a(ctx) === b(ctx) : (ctx) => a(ctx) !== b(ctx);
    }
    case 'in': {
      const item = stringOf(node.args[0]);
      const list = item && listOf(node.args[1]);
      if (!item || !list) return null;
      return (ctx) => list(ctx).includes(item(ctx));
    }
    case '&&':
    case '||': {
      const a = nativeOf(node.args[0]);
      const b = a && nativeOf(node.args[1]);
      if (!a || !b) return null;
      return node.op === '&&' ? (ctx) => a(ctx) && b(ctx) : (ctx) => a(ctx) || b(ctx);
    }
    case '!_': {
      const a = nativeOf(node.args as ASTNode);
      return a && ((ctx) => !a(ctx));
    }
    case '?:': {
      const [c, t, f] = (node.args as ASTNode[]).map(nativeOf);
      if (!c || !t || !f) return null;
      return (ctx) => (c(ctx) ? t(ctx) : f(ctx));
    }
    default:
      return null;
  }
}
