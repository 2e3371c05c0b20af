/**
 * Rule conditions in CEL (Common Expression Language), parsed, type-checked
 * and compiled when a policy is loaded — never pasted into a matcher as text,
 * so `x ) || ( true` is a syntax error, not a wider grant. The environment
 * declares exactly the fields a condition may read; prototypes are not
 * reachable; regular expressions (`matches`) are refused; size and depth are
 * bounded, and CEL has no loops beyond bounded comprehensions.
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import type { CompiledCondition, ConditionContext } from '../engine/snapshot.ts';
import { conjunctionEvaluator, conjuncts, splitPins, type Budget, type ConditionPins } from './conditionIndex.ts';
import { nativeOf, type NativeCondition } from './conditionNative.ts';
import { contextWithin, DEFAULT_CONDITION_LIMITS, estimateCost, measure, overLimits, STATIC_BOUNDS, UnboundedConditionError, type Bound, type ConditionLimits } from './conditionCost.ts';

/** The CEL environment of conditions: exactly the fields they may read, and the limits of the text. */
export const conditionEnvironment = new Environment({ limits: { maxAstNodes: 200, maxDepth: 24, maxListElements: 200, maxMapEntries: 50, maxCallArguments: 8 } })
  .registerType('Principal', { fields: { id: 'string', kind: 'string', projects: 'list<string>', vendor: 'string', attributes: 'map<string, dyn>' } })
  .registerType('Resource', { fields: { id: 'string', project: 'string', owner: 'string', classification: 'string', purposes: 'list<string>' } })
  .registerType('Request', { fields: { action: 'string', purpose: 'string', columns: 'list<string>', context: 'map<string, dyn>' } })
  .registerVariable('principal', 'Principal')
  .registerVariable('resource', 'Resource')
  .registerVariable('request', 'Request');
const env = conditionEnvironment;

/** Functions a condition may not call: regular expressions can be made catastrophically slow. */
const FORBIDDEN_FUNCTIONS = new Set(['matches']);
/** Comprehension macros: one level is linear in a list's size; nesting them multiplies the cost. */
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** True when `//` (a CEL line comment) appears outside string literals. */
function hasComment(text: string): boolean {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (text.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = null;
      }
      continue;
    }
    if (text.startsWith('"""', i) || text.startsWith("'''", i)) {
      quote = text.slice(i, i + 3);
      i += 2;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '/' && text[i + 1] === '/') return true;
  }
  return false;
}

/** A condition that failed validation. */
export class ConditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionError';
  }
}

function walk(node: ASTNode, visit: (n: ASTNode) => void): void {
  visit(node);
  const args = node.args as unknown;
  const visitAny = (a: unknown) => {
    if (a && typeof a === 'object' && 'op' in (a as object) && 'args' in (a as object)) walk(a as ASTNode, visit);
    else if (Array.isArray(a)) a.forEach(visitAny);
  };
  visitAny(args);
}

/** A condition's inputs would make it cost more than its budget: it is not evaluated (and so fails closed). */
export class ConditionBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionBudgetError';
  }
}

/** The measured inputs of one decision, shared by every condition it evaluates (the context is built once per decision). */
const measured = new WeakMap<ConditionContext, Bound>();
function inputsOf(ctx: ConditionContext): Bound {
  let b = measured.get(ctx);
  if (!b) measured.set(ctx, (b = measure(ctx)));
  return b;
}

/**
 * Whether a decision's inputs lie within the sizes the API accepts. The
 * conditions of a decision ask about one context after another, so the
 * answers for the last two contexts asked about (a decision's own, and the
 * one a membership grant widens) are kept: a WeakMap entry per decision cost
 * about a microsecond, in the map and in the collector.
 */
const recentContexts: (ConditionContext | undefined)[] = [undefined, undefined];
const recentAnswers = [false, false];
let replace = 0;
function isOrdinary(ctx: ConditionContext): boolean {
  if (recentContexts[0] === ctx) return recentAnswers[0]!;
  if (recentContexts[1] === ctx) return recentAnswers[1]!;
  const answer = contextWithin(ctx);
  recentContexts[replace] = ctx;
  recentAnswers[replace] = answer;
  replace ^= 1;
  return answer;
}

/**
 * Whether a compiled condition may refuse to evaluate a context (throw
 * ConditionBudgetError) rather than answer: only when its inputs lie outside
 * the sizes the API accepts, for which every condition's cost was checked
 * when it was compiled. The engine asks before it may skip a deny a
 * condition pins to other ids (a refusing deny applies).
 */
export function mayRefuse(ctx: ConditionContext): boolean {
  return !isOrdinary(ctx);
}

/** A compiled condition and the ids it pins (see conditionIndex.ts). */
export interface AnalysedCondition {
  evaluate: CompiledCondition;
  pins: ConditionPins;
}

/**
 * Parses, type-checks and compiles a condition; throws ConditionError with a
 * readable message, also when its cost for inputs of the sizes the API
 * accepts is over `limits`. The compiled condition checks its cost for the
 * actual inputs before every evaluation and throws ConditionBudgetError when
 * it is over: the engine treats a throwing condition as unmet for an allow
 * and as met for a deny (fail closed).
 */
export function compileCondition(text: string, limits: ConditionLimits = DEFAULT_CONDITION_LIMITS): CompiledCondition {
  return analyseCondition(text, limits).evaluate;
}

/** The conjuncts of a condition left to the CEL evaluator, compiled as one expression (see conditionIndex.ts). */
type Rest = (ctx: ConditionContext) => unknown;
/**
 * What the conditions of one policy share, by source text: the CEL rests
 * compiled so far (null: not read back) and the conjuncts compiled to plain
 * functions (conditionNative.ts).
 */
export interface SharedParts {
  rests: Map<string, Rest | null>;
  natives: Map<string, NativeCondition>;
}

/** Nothing shared yet: one per policy. */
export function sharedParts(): SharedParts {
  return { rests: new Map(), natives: new Map() };
}

/** A conjunct's parsed form, comparable (bigint literals included). */
const shapeOf = (n: ASTNode) => JSON.stringify(n.toOldStructure(), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

/** A conjunct's source text. */
const sourceOf = (text: string, c: ASTNode) => text.slice(c.range.start, c.range.end);

/**
 * The conjuncts `rest` of `text`, as one expression of their source texts,
 * compiled once for every condition with the same rest (`shared`); null when
 * that text does not read back as the very same conjuncts, so that the
 * condition is evaluated whole instead.
 */
function restOf(text: string, rest: readonly ASTNode[], shared: SharedParts): Rest | null {
  const restText = rest.map((c) => `(${sourceOf(text, c)})`).join(' && ');
  let compiled = shared.rests.get(restText);
  if (compiled !== undefined) return compiled;
  compiled = null;
  try {
    const parsed = env.parse(restText);
    const again = conjuncts(parsed.ast);
    if (parsed.check().valid && again.length === rest.length && again.every((n, i) => shapeOf(n) === shapeOf(rest[i]!))) {
      compiled = (ctx) => parsed(ctx as unknown as Record<string, unknown>);
    }
  } catch {
    // Not read back: evaluated whole.
  }
  shared.rests.set(restText, compiled);
  return compiled;
}

/** A conjunct as a plain function (shared by every condition with the same one), or null when it is left to CEL. */
function nativeConjunct(text: string, c: ASTNode, shared: SharedParts): NativeCondition | null {
  const source = sourceOf(text, c);
  let native = shared.natives.get(source);
  if (native) return native;
  native = nativeOf(c) ?? undefined;
  if (native) shared.natives.set(source, native);
  return native ?? null;
}

/**
 * A condition evaluated as its conjuncts: its pins, those compiled to plain
 * functions, then the others as one CEL expression; null (evaluate it whole)
 * when that gains nothing or the others do not read back.
 */
function splitEvaluator(text: string, pins: ConditionPins, rest: readonly ASTNode[], shared: SharedParts, budget: Budget): CompiledCondition | null {
  const natives: NativeCondition[] = [];
  const others: ASTNode[] = [];
  for (const c of rest) {
    const native = nativeConjunct(text, c, shared);
    if (native) natives.push(native);
    else others.push(c);
  }
  if (!pins.principals && !pins.datasets && !natives.length) return null;
  if (!others.length) return conjunctionEvaluator(pins, natives, null, budget);
  const compiled = restOf(text, others, shared);
  return compiled ? conjunctionEvaluator(pins, natives, compiled, budget) : null;
}

/**
 * {@link compileCondition}, and what the condition pins, read off the same
 * parsed expression. A condition is evaluated as its conjuncts: its pins,
 * then those compiled to plain functions (conditionNative.ts), then the
 * others as one CEL expression, each compiled once for every condition in
 * `shared` with the same ones (null: evaluate every condition whole, as CEL
 * text — the reference the tests compare with). The cost budget is always
 * that of the whole condition.
 */
export function analyseCondition(text: string, limits: ConditionLimits = DEFAULT_CONDITION_LIMITS, shared: SharedParts | null = sharedParts()): AnalysedCondition {
  // Comments would let a condition read differently to a reviewer than to the engine.
  if (hasComment(text)) throw new ConditionError('comments (//) are not allowed in conditions');
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(text);
  } catch (err) {
    throw new ConditionError(`not a valid CEL expression: ${firstLine(err)}`);
  }
  walk(parsed.ast, (n) => {
    if (n.op === 'call' || n.op === 'rcall') {
      const fn = n.args[0];
      if (FORBIDDEN_FUNCTIONS.has(fn)) throw new ConditionError(`function ${fn}() is not allowed in conditions (unbounded regular expressions)`);
      if (COMPREHENSIONS.has(fn) && n.op === 'rcall') {
        const inner = n.args[2];
        for (const arg of inner) {
          walk(arg, (m) => {
            if (m.op === 'rcall' && COMPREHENSIONS.has(m.args[0])) throw new ConditionError(`nested comprehensions (${m.args[0]} inside ${fn}) are not allowed: their cost multiplies`);
          });
        }
      }
    }
  });
  const checked = parsed.check();
  if (!checked.valid) throw new ConditionError(`does not type-check: ${firstLine(checked.error)}`);
  if (checked.type !== 'bool') throw new ConditionError(`must be a boolean expression (it is ${checked.type})`);
  let over: string | null;
  try {
    over = overLimits(estimateCost(parsed.ast, STATIC_BOUNDS), limits);
  } catch (err) {
    if (err instanceof UnboundedConditionError) throw new ConditionError(err.message);
    throw err;
  }
  if (over) throw new ConditionError(`too expensive: for requests of the sizes the API accepts, ${over}`);
  // Inputs within the static bounds are covered by the estimate above (the model is monotone in its bounds); others are estimated for what they are.
  const budget: Budget = {
    ordinary: isOrdinary,
    check(ctx) {
      const why = overLimits(estimateCost(parsed.ast, inputsOf(ctx)), limits);
      if (why) throw new ConditionBudgetError(`not evaluated: for these inputs, ${why}`);
    },
  };
  const { pins, rest } = splitPins(parsed.ast);
  const split = shared ? splitEvaluator(text, pins, rest, shared, budget) : null;
  const evaluate =
    split ??
    ((ctx: ConditionContext) => {
      if (!budget.ordinary(ctx)) budget.check(ctx);
      return parsed(ctx as unknown as Record<string, unknown>) === true;
    });
  return { evaluate, pins };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
}
