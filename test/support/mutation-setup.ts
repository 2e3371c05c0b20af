/**
 * Set-up of mutation runs (vitest.mutation.config.ts). A mutation run needs
 * to know only that a property fails under a mutant, not its smallest
 * counterexample: shrinking would re-run the property hundreds of times and
 * turn a killed mutant into a timeout.
 */
import fc from 'fast-check';

fc.configureGlobal({ endOnFailure: true });
