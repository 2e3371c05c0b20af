/**
 * V8 heap settings of a serving process. Under a steady load V8's own
 * heuristics let the old generation grow to several times what is live, and
 * then, the first time its memory reducer runs (after anything from 5 to 15
 * minutes, whenever it judges the process idle enough), shrink it for good:
 * in the 30-minute soak the server's resident memory fell by about a fifth
 * at a moment no one chose, and stayed there. With a fixed growth (each full
 * collection lets the heap reach twice what survived it) and no memory
 * reducer, memory follows what is live from the first minute, and a full
 * collection comes about every 30 to 50 seconds per worker at 250 calls/s
 * (not every 8 to 10, as at the factor the reducer leaves behind, whose
 * pauses of 20 to 60 ms each raised the p99).
 *
 * The cost: a process that falls idle keeps its heap (about twice what is
 * live) instead of returning part of it. An operator who chose either flag
 * on the command line keeps the choice.
 */

/** The flags: old generation allowed to grow to twice what survived the last full collection; no memory reducer. */
export const SERVING_V8_FLAGS: readonly string[] = ['--heap-growing-percent=100', '--no-memory-reducer'];

/** A V8 flag's name, without `--`, `--no-` or a value (`_` and `-` are the same to V8). */
function flagName(flag: string): string {
  return flag.replace(/^--(no-)?/, '').split('=')[0]!.replaceAll('_', '-');
}

/** The serving flags not already given (as the same flag, in either spelling, with any value) in `execArgv`. */
export function servingFlagsMissing(execArgv: readonly string[]): string[] {
  const given = new Set(execArgv.filter((a) => a.startsWith('--')).map(flagName));
  return SERVING_V8_FLAGS.filter((f) => !given.has(flagName(f)));
}

/** What a cluster primary starts its workers with: its own options, plus the serving flags they lack. */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  return [...execArgv, ...servingFlagsMissing(execArgv)];
}
