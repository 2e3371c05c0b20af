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

const env = new Environment({ limits: { maxAstNodes: 200, maxDepth: 24, maxListElements: 200, maxMapEntries: 50, maxCallArguments: 8 } })
  .registerType('Principal', { fields: { id: 'string', kind: 'string', projects: 'list<string>', vendor: 'string', attributes: 'map<string, dyn>' } })
  .registerType('Resource', { fields: { id: 'string', project: 'string', owner: 'string', classification: 'string', purposes: 'list<string>' } })
  .registerType('Request', { fields: { action: 'string', purpose: 'string', columns: 'list<string>', context: 'map<string, dyn>' } })
  .registerVariable('principal', 'Principal')
  .registerVariable('resource', 'Resource')
  .registerVariable('request', 'Request');

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

/** Parses, type-checks and compiles a condition; throws ConditionError with a readable message. */
export function compileCondition(text: string): CompiledCondition {
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
            if (m.op === 'rcall' && COMPREHENSIONS.has(m.args[0])) throw new ConditionError(`nested comprehensions (${fn} inside ${fn}) are not allowed: their cost multiplies`);
          });
        }
      }
    }
  });
  const checked = parsed.check();
  if (!checked.valid) throw new ConditionError(`does not type-check: ${firstLine(checked.error)}`);
  if (checked.type !== 'bool') throw new ConditionError(`must be a boolean expression (it is ${checked.type})`);
  return (ctx: ConditionContext) => parsed(ctx as unknown as Record<string, unknown>) === true;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
}
