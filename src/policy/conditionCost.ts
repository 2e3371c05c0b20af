/**
 * The cost model of rule conditions. The CEL library bounds the text of an
 * expression (AST nodes, depth, literal sizes) but not the work: one
 * comprehension whose body concatenates request-sized lists is quadratic in
 * the request (`request.columns.map(c, request.columns + request.columns)`),
 * and `cel.bind` doubles a list per level. So every condition gets an upper
 * bound on its cost and on the largest value it builds, computed over its
 * type-checked AST from bounds on its inputs, in the manner of cel-go's cost
 * estimator (string traversal at 0.1 per character, list work at 1 per
 * element):
 * - when the policy is written, from the sizes the API accepts (STATIC_BOUNDS);
 * - before each evaluation, from the sizes of the actual inputs.
 * A function or operator without a cost model is refused: the model must
 * cover everything a condition can do, or the bound would not be one.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import type { ConditionContext } from '../engine/snapshot.ts';

/** An upper bound on a value: its length (elements, entries, characters; 1 for a scalar), its elements' bound, and known fields' bounds. */
export interface Bound {
  n: number;
  elem?: Bound | undefined;
  fields?: Readonly<Record<string, Bound>> | undefined;
}

/** The budget of one condition evaluation (CUSTOS_POLICY_CONDITION_MAX_COST, CUSTOS_POLICY_CONDITION_MAX_ELEMENTS). */
export interface ConditionLimits {
  maxCost: number;
  maxElements: number;
}

/** The defaults of {@link ConditionLimits} (the same as the configuration's). */
export const DEFAULT_CONDITION_LIMITS: ConditionLimits = Object.freeze({ maxCost: 1_000_000, maxElements: 1_000_000 });

/** What a condition costs at most, and the largest value (in elements, entries or characters) it builds. */
export interface CostEstimate {
  cost: number;
  largest: number;
}

/** A condition uses something the cost model does not cover. */
export class UnboundedConditionError extends Error {}

const SCALAR: Bound = Object.freeze({ n: 1 });
/** Cost of one character of string work (cel-go's string traversal factor). */
const PER_CHAR = 0.1;

const str = (n: number): Bound => ({ n });
const list = (n: number, elem: Bound): Bound => ({ n, elem });
/** A map whose keys are at most `keyLength` characters and whose values are `value`; iterating it yields keys. */
const map = (n: number, keyLength: number, value: Bound): Bound => ({ n, elem: join(value, str(keyLength)) });
const object = (fields: Record<string, Bound>): Bound => ({ n: Object.keys(fields).length, fields });

/**
 * The inputs as the API accepts them: decision requests name at most 2,000
 * columns (identifiers of at most 63 characters) and 50 context entries of at
 * most 500 characters; principals carry at most 50 attributes (text of 500,
 * or lists of 100 × 200); ids and slugs are at most 128 characters. Project
 * memberships are not capped by the catalog: 50 are assumed here, and the
 * check before each evaluation covers a principal with more.
 */
export const STATIC_BOUNDS: Bound = object({
  principal: object({ id: str(36), kind: str(7), projects: list(50, str(63)), vendor: str(63), attributes: map(50, 63, { n: 500, elem: str(200) }) }),
  resource: object({ id: str(128), project: str(63), owner: str(36), classification: str(12), purposes: list(5, str(16)) }),
  request: object({ action: str(32), purpose: str(16), columns: list(2000, str(63)), context: map(50, 64, str(500)) }),
});

/** The least bound covering both. */
export function join(a: Bound | undefined, b: Bound | undefined): Bound | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a === b) return a;
  return { n: Math.max(a.n, b.n), elem: join(elements(a), elements(b)) };
}

/** Joined element bounds of bounds with fields, computed once per bound (bounds are never changed once made). */
const joinedFields = new WeakMap<Bound, Bound | undefined>();

/** The bound of any one element, entry or field. */
function elements(b: Bound): Bound | undefined {
  if (!b.fields) return b.elem;
  if (joinedFields.has(b)) return joinedFields.get(b);
  let out = b.elem;
  for (const f of Object.values(b.fields)) out = join(out, f);
  joinedFields.set(b, out);
  return out;
}

/** Elements in a value, counted through every level. */
export function total(b: Bound): number {
  if (b.fields) return Object.values(b.fields).reduce((s, f) => s + total(f), b.n);
  return b.elem ? b.n + b.n * total(b.elem) : b.n;
}

/** The exact bound of an actual value (a condition's input). */
export function measure(value: unknown): Bound {
  if (typeof value === 'string') return str(value.length);
  if (Array.isArray(value)) {
    let elem: Bound | undefined;
    for (const v of value) elem = join(elem, measure(v));
    return elem ? list(value.length, elem) : { n: 0 };
  }
  if (value instanceof Uint8Array) return str(value.length);
  if (value && typeof value === 'object') {
    const fields: Record<string, Bound> = {};
    let elem: Bound | undefined;
    for (const [k, v] of Object.entries(value)) {
      fields[k] = measure(v);
      elem = join(elem, str(k.length));
    }
    return { n: Object.keys(fields).length, elem, fields };
  }
  return SCALAR;
}

/** True when an actual value lies within a bound (then every estimate made with the bound holds for it: the model is monotone). */
export function within(value: unknown, b: Bound): boolean {
  if (typeof value === 'string' || value instanceof Uint8Array) return value.length <= b.n;
  if (Array.isArray(value)) {
    if (value.length > b.n) return false;
    const e = elements(b) ?? SCALAR;
    for (const v of value) if (!within(v, e)) return false;
    return true;
  }
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length > b.n) return false;
    for (const k of keys) {
      let f = b.fields && Object.hasOwn(b.fields, k) ? b.fields[k] : undefined;
      if (!f) {
        f = elements(b) ?? SCALAR;
        if (k.length > f.n) return false;
      }
      if (!within((value as Record<string, unknown>)[k], f)) return false;
    }
    return true;
  }
  return b.n >= 1;
}

/** The bounds of the context's declared fields, read once. */
const FIELD_BOUNDS = (() => {
  const of = (v: string) => STATIC_BOUNDS.fields![v]!.fields!;
  return { principal: of('principal'), resource: of('resource'), request: of('request') };
})();

/** A string within its bound (anything else is not: see {@link contextWithin}). */
function stringWithin(v: unknown, b: Bound): boolean {
  return typeof v === 'string' && v.length <= b.n;
}

/** A list of strings within its bound. */
function stringsWithin(v: unknown, b: Bound): boolean {
  if (!Array.isArray(v) || v.length > b.n) return false;
  const max = b.elem!.n;
  for (const s of v) if (typeof s !== 'string' || s.length > max) return false;
  return true;
}

/**
 * `within(ctx, STATIC_BOUNDS)` for a condition context, read field by field
 * instead of walked generically (which cost about half a microsecond per
 * decision): the declared string and list fields by their bounds, the two
 * maps of dynamic values (`principal.attributes`, `request.context`) the
 * generic way. A context may carry fields beyond the declared ones; no
 * condition can read them (the type checker refuses it), so they cost
 * nothing and are not looked at. A declared field of another type is not
 * within (the generic walk would let some through): the condition's cost is
 * then estimated for the actual inputs, which is only slower.
 */
export function contextWithin(ctx: ConditionContext): boolean {
  const { principal: p, resource: r, request: q } = ctx;
  const P = FIELD_BOUNDS.principal;
  const R = FIELD_BOUNDS.resource;
  const Q = FIELD_BOUNDS.request;
  return (
    stringWithin(p.id, P.id!) &&
    stringWithin(p.kind, P.kind!) &&
    stringWithin(p.vendor, P.vendor!) &&
    stringsWithin(p.projects, P.projects!) &&
    within(p.attributes, P.attributes!) &&
    stringWithin(r.id, R.id!) &&
    stringWithin(r.project, R.project!) &&
    stringWithin(r.owner, R.owner!) &&
    stringWithin(r.classification, R.classification!) &&
    stringsWithin(r.purposes, R.purposes!) &&
    stringWithin(q.action, Q.action!) &&
    stringWithin(q.purpose, Q.purpose!) &&
    stringsWithin(q.columns, Q.columns!) &&
    within(q.context, Q.context!)
  );
}

interface Est {
  cost: number;
  b: Bound;
}

const isString = (n: ASTNode): boolean => (n as { checkedType?: { name?: string } }).checkedType?.name === 'string';
/** Per-element cost of work on a value: strings are cheap per character, everything else is counted per element. */
const unit = (n: ASTNode): number => (isString(n) ? PER_CHAR : 1);
const TIME_GETTERS = new Set(['getDate', 'getDayOfMonth', 'getDayOfWeek', 'getDayOfYear', 'getFullYear', 'getHours', 'getMilliseconds', 'getMinutes', 'getMonth', 'getSeconds']);
const CONVERSIONS = new Set(['int', 'uint', 'double', 'bool', 'string', 'timestamp', 'duration']);
const SEARCHES = new Set(['contains', 'startsWith', 'endsWith', 'indexOf', 'lastIndexOf']);
const QUANTIFIERS = new Set(['all', 'exists', 'exists_one']);

/** Bounds the cost and the largest value of a type-checked condition, given bounds on its variables. */
export function estimateCost(ast: ASTNode, inputs: Bound): CostEstimate {
  let largest = 0;
  const note = (e: Est): Est => {
    const size = total(e.b);
    if (size > largest) largest = size;
    return e;
  };
  const scope0 = new Map<string, Bound>(Object.entries(inputs.fields ?? {}));

  const visit = (node: ASTNode, scope: Map<string, Bound>): Est => {
    const a = (Array.isArray(node.args) ? node.args : [node.args]) as unknown as ASTNode[];
    const sum = (...parts: Est[]) => parts.reduce((s, p) => s + p.cost, 1);
    switch (node.op) {
      case 'value': {
        const v = node.args as unknown;
        return note({ cost: 1, b: typeof v === 'string' || v instanceof Uint8Array ? str(v.length) : SCALAR });
      }
      case 'id':
        return { cost: 1, b: scope.get(node.args as unknown as string) ?? SCALAR };
      case '.':
      case '.?': {
        const base = visit(a[0]!, scope);
        const name = a[1] as unknown as string;
        return { cost: base.cost + 1, b: (base.b.fields && Object.hasOwn(base.b.fields, name) ? base.b.fields[name] : elements(base.b)) ?? SCALAR };
      }
      case '[]':
      case '[?]': {
        const base = visit(a[0]!, scope);
        const index = visit(a[1]!, scope);
        return { cost: sum(base, index), b: elements(base.b) ?? SCALAR };
      }
      case 'list': {
        const items = a.map((x) => visit(x, scope));
        return note({ cost: sum(...items) + items.length, b: { n: items.length, elem: items.reduce<Bound | undefined>((j, i) => join(j, i.b), undefined) } });
      }
      case 'map': {
        const entries = (node.args as unknown as [ASTNode, ASTNode][]).map(([k, v]) => [visit(k, scope), visit(v, scope)] as const);
        let elem: Bound | undefined;
        for (const [k, v] of entries) elem = join(join(elem, k.b), v.b);
        return note({ cost: sum(...entries.flat()) + entries.length, b: { n: entries.length, elem } });
      }
      case '+': {
        const [l, r] = [visit(a[0]!, scope), visit(a[1]!, scope)];
        const b = { n: l.b.n + r.b.n, elem: join(l.b.elem, r.b.elem) };
        return note({ cost: sum(l, r) + b.n * unit(node), b });
      }
      case '-':
      case '*':
      case '/':
      case '%':
      case '&&':
      case '||':
      case '!_':
      case '-_':
        return { cost: sum(...a.map((x) => visit(x, scope))), b: SCALAR };
      case '==':
      case '!=': {
        const [l, r] = [visit(a[0]!, scope), visit(a[1]!, scope)];
        return { cost: sum(l, r) + Math.min(total(l.b), total(r.b)) * unit(a[0]!), b: SCALAR };
      }
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const [l, r] = [visit(a[0]!, scope), visit(a[1]!, scope)];
        return { cost: sum(l, r) + Math.min(l.b.n, r.b.n) * PER_CHAR, b: SCALAR };
      }
      case 'in': {
        const [l, r] = [visit(a[0]!, scope), visit(a[1]!, scope)];
        const each = 1 + Math.min(total(l.b), total(elements(r.b) ?? SCALAR)) * unit(a[0]!);
        return { cost: sum(l, r) + r.b.n * each, b: SCALAR };
      }
      case '?:': {
        const [c, t, f] = a.map((x) => visit(x, scope)) as [Est, Est, Est];
        return { cost: sum(c, t, f), b: join(t.b, f.b)! };
      }
      case 'call':
      case 'rcall':
        return node.op === 'call' ? call(node, scope) : rcall(node, scope);
      default:
        throw new UnboundedConditionError(`the operator ${String((node as { op: unknown }).op)} has no cost model`);
    }
  };

  const call = (node: ASTNode, scope: Map<string, Bound>): Est => {
    const [name, args] = node.args as unknown as [string, ASTNode[]];
    const ests = args.map((x) => visit(x, scope));
    const cost = ests.reduce((s, e) => s + e.cost, 1);
    const first = ests[0]?.b ?? SCALAR;
    if (name === 'has' || name === 'size') return { cost, b: SCALAR };
    if (name === 'dyn') return { cost, b: first };
    if (CONVERSIONS.has(name)) return note({ cost: cost + first.n * PER_CHAR, b: str(first.n + 64) });
    throw new UnboundedConditionError(`function ${name}() is not allowed in conditions (it has no cost model)`);
  };

  const rcall = (node: ASTNode, scope: Map<string, Bound>): Est => {
    const [name, receiver, args] = node.args as unknown as [string, ASTNode, ASTNode[]];
    if (name === 'bind' && receiver.op === 'id' && (receiver.args as unknown) === 'cel') {
      const value = visit(args[1]!, scope);
      const body = visit(args[2]!, new Map(scope).set(args[0]!.args as unknown as string, value.b));
      return { cost: value.cost + body.cost + 1, b: body.b };
    }
    const recv = visit(receiver, scope);
    if (QUANTIFIERS.has(name) || name === 'map' || name === 'filter') {
      const inner = new Map(scope).set(args[0]!.args as unknown as string, elements(recv.b) ?? SCALAR);
      const bodies = args.slice(1).map((x) => visit(x, inner));
      const each = bodies.reduce((s, e) => s + e.cost, 1);
      const cost = recv.cost + 1 + recv.b.n * each;
      if (name === 'map') return note({ cost, b: { n: recv.b.n, elem: bodies.at(-1)!.b } });
      if (name === 'filter') return { cost, b: recv.b };
      return { cost, b: SCALAR };
    }
    const ests = args.map((x) => visit(x, scope));
    const cost = ests.reduce((s, e) => s + e.cost, recv.cost + 1);
    const arg = ests[0]?.b ?? SCALAR;
    if (name === 'size' || TIME_GETTERS.has(name)) return { cost, b: SCALAR };
    if (SEARCHES.has(name)) return { cost: cost + (recv.b.n + arg.n) * PER_CHAR, b: SCALAR };
    if (name === 'lowerAscii' || name === 'upperAscii' || name === 'trim' || name === 'substring') return note({ cost: cost + recv.b.n * PER_CHAR, b: str(recv.b.n) });
    if (name === 'split') return note({ cost: cost + recv.b.n * (1 + PER_CHAR), b: list(recv.b.n + 1, str(recv.b.n)) });
    if (name === 'join') {
      const n = recv.b.n * ((recv.b.elem ?? SCALAR).n + arg.n);
      return note({ cost: cost + recv.b.n + n * PER_CHAR, b: str(n) });
    }
    throw new UnboundedConditionError(`function ${name}() is not allowed in conditions (it has no cost model)`);
  };

  const { cost } = note(visit(ast, scope0));
  return { cost: Math.ceil(cost), largest };
}

/** Why an estimate is over the limits, or null when it is within them. */
export function overLimits(e: CostEstimate, limits: ConditionLimits): string | null {
  if (e.cost > limits.maxCost) return `its cost (at most ${e.cost}) exceeds the budget of ${limits.maxCost}`;
  if (e.largest > limits.maxElements) return `it may build a value of ${e.largest} elements or characters (the limit is ${limits.maxElements})`;
  return null;
}
